"""A Parquet table that loads as an empty table while it has not been written (e.g.
``cv_metrics`` for a report rebuilt after a modelling run that predates it)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro_datasets.pandas import ParquetDataset


class OptionalTableDataset(ParquetDataset):
    """``pandas.ParquetDataset`` whose load gives an empty ``DataFrame`` when the file does not
    exist; saving is unchanged."""

    def load(self) -> pd.DataFrame:
        if not self._exists():
            return pd.DataFrame()
        return super().load()

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "optional": True}
