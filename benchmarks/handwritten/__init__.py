"""Idiomatic hand-written models of specs/cifar_cnn.yaml and specs/resnet18.yaml, one module per
framework, used as the speed baseline for the generated code."""
