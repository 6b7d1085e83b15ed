"""The custom layers and initializer the emitted Keras module may define, as real modules.

:mod:`normspec.backends.keras.helpers` reads these files as text and copies each definition the
spec needs into the generated file, which gives them the same imports as each module here
(``math``, ``keras``, ``from keras import layers, ops``) and registers every class for saving.
Importing a module here imports Keras; emitting never does.
"""
