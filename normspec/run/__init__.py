"""Training runs, cross-framework comparison runs and ablations (framework-free orchestration)."""
