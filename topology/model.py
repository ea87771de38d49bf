"""Strict pydantic base model shared by every scenario-file section."""
from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A config section: unknown keys are errors, assignments are re-validated, and every float
    (in subclasses too, nested in lists and tuples included) must be finite: `.inf` / `.nan` in a
    scenario file would otherwise pass into the clock and the models."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True,
                              allow_inf_nan=False)
