"""SINR → spectral efficiency → bits per PRB per TTI (TR 36.942 attenuated Shannon, TS 36.213 CQI table).

The njit kernels (`efficiency_kernel`, `bits_per_prb_kernel`, and their scalar forms) can be
called from other compiled code such as the RAN's per-TTI loop; the numpy functions
`spectral_efficiency` and `bits_per_prb` wrap them for array use.

CQI thresholds (not standardised, so chosen here): CQI k is used from the SINR at which the
TR 36.942 attenuated Shannon curve without its cap, 0.6·log2(1 + SINR), reaches the CQI's
efficiency, i.e. SINR_k = 2^(eff_k / 0.6) − 1. The CQI mapping therefore never promises more than
the 36.942 link abstraction at the same SINR, and reaches its steps between −7.2 dB (CQI 1) and
27.9 dB (CQI 15); below CQI 1 nothing is sent (CQI 0, out of range).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

MAPPING_SHANNON = 0
MAPPING_CQI = 1
MAPPING_CODES = {"shannon": MAPPING_SHANNON, "cqi": MAPPING_CQI}

# TS 36.213 Table 7.2.3-1 (4-bit CQI table): efficiency of CQI 1..15 [bit/s/Hz].
CQI_EFFICIENCY = np.array(
    [0.1523, 0.2344, 0.3770, 0.6016, 0.8770, 1.1758, 1.4766, 1.9141,
     2.4063, 2.7305, 3.3223, 3.9023, 4.5234, 5.1152, 5.5547]
)
CQI_THRESHOLD_ALPHA = 0.6
# Linear SINR from which CQI 1..15 is used (see the module docstring for the rule).
CQI_SINR_THRESHOLDS = 2.0 ** (CQI_EFFICIENCY / CQI_THRESHOLD_ALPHA) - 1.0
CQI_SINR_THRESHOLDS_DB = 10.0 * np.log10(CQI_SINR_THRESHOLDS)

# TR 36.942 Annex A.2: bandwidth of one LTE PRB and the LTE TTI.
PRB_BANDWIDTH_HZ = 180e3
TTI_S = 1e-3


@dataclass(frozen=True)
class ShannonParams:
    """Attenuated, truncated Shannon: 0 below sinr_min, α·log2(1 + SINR) capped at max_efficiency."""

    alpha: float
    sinr_min_db: float
    max_efficiency: float

    @property
    def sinr_min_linear(self) -> float:
        return 10.0 ** (self.sinr_min_db / 10.0)


# TR 36.942 Annex A.2: downlink α 0.6, −10 dB, 4.4 bit/s/Hz; uplink α 0.4, −10 dB, 2.0 bit/s/Hz.
DOWNLINK = ShannonParams(0.6, -10.0, 4.4)
UPLINK = ShannonParams(0.4, -10.0, 2.0)


@njit(cache=True)
def shannon_efficiency_scalar(sinr: float, alpha: float, sinr_min: float, max_efficiency: float) -> float:
    """Attenuated truncated Shannon efficiency [bit/s/Hz] of one linear SINR."""
    if not sinr >= sinr_min:
        return 0.0
    eff = alpha * math.log2(1.0 + sinr)
    return eff if eff < max_efficiency else max_efficiency


@njit(cache=True)
def cqi_index_scalar(sinr: float, thresholds: np.ndarray) -> int:
    """CQI 0..15 for one linear SINR: the highest CQI whose threshold the SINR reaches (0 = none)."""
    k = 0
    for i in range(thresholds.shape[0]):
        if sinr >= thresholds[i]:
            k = i + 1
        else:
            break
    return k


@njit(cache=True)
def efficiency_scalar(
    sinr: float, mapping: int, alpha: float, sinr_min: float, max_efficiency: float,
    cqi_thresholds: np.ndarray, cqi_efficiency: np.ndarray,
) -> float:
    """Spectral efficiency [bit/s/Hz] of one linear SINR under `mapping` (MAPPING_SHANNON or MAPPING_CQI)."""
    if mapping == MAPPING_CQI:
        k = cqi_index_scalar(sinr, cqi_thresholds)
        return 0.0 if k == 0 else cqi_efficiency[k - 1]
    return shannon_efficiency_scalar(sinr, alpha, sinr_min, max_efficiency)


@njit(cache=True)
def efficiency_kernel(
    sinr: np.ndarray, mapping: int, alpha: float, sinr_min: float, max_efficiency: float,
    cqi_thresholds: np.ndarray, cqi_efficiency: np.ndarray, out: np.ndarray,
) -> None:
    """out[i] = spectral efficiency [bit/s/Hz] of linear sinr[i]."""
    for i in range(sinr.shape[0]):
        out[i] = efficiency_scalar(sinr[i], mapping, alpha, sinr_min, max_efficiency, cqi_thresholds, cqi_efficiency)


@njit(cache=True)
def bits_per_prb_kernel(
    sinr: np.ndarray, mapping: int, alpha: float, sinr_min: float, max_efficiency: float,
    cqi_thresholds: np.ndarray, cqi_efficiency: np.ndarray, prb_bandwidth_hz: float, tti_s: float,
    out: np.ndarray,
) -> None:
    """out[i] = bits one PRB carries in one TTI at linear sinr[i] (efficiency × PRB bandwidth × TTI)."""
    scale = prb_bandwidth_hz * tti_s
    for i in range(sinr.shape[0]):
        out[i] = scale * efficiency_scalar(
            sinr[i], mapping, alpha, sinr_min, max_efficiency, cqi_thresholds, cqi_efficiency
        )


@dataclass(frozen=True)
class LinkMapping:
    """The arguments the njit kernels take, bundled from a config (mapping code, Shannon and CQI tables)."""

    mapping: int
    alpha: float
    sinr_min: float
    max_efficiency: float
    cqi_thresholds: np.ndarray
    cqi_efficiency: np.ndarray

    @classmethod
    def create(cls, mapping: str = "shannon", params: ShannonParams = DOWNLINK) -> "LinkMapping":
        try:
            code = MAPPING_CODES[mapping]
        except KeyError:
            raise ValueError(f"unknown link mapping {mapping!r}; known: {', '.join(MAPPING_CODES)}") from None
        return cls(code, float(params.alpha), params.sinr_min_linear, float(params.max_efficiency),
                   CQI_SINR_THRESHOLDS.copy(), CQI_EFFICIENCY.copy())

    @classmethod
    def from_config(cls, link_cfg) -> "LinkMapping":
        """From the scenario's `radio.link` section."""
        return cls.create(link_cfg.mapping, ShannonParams(link_cfg.alpha, link_cfg.sinr_min_db, link_cfg.max_efficiency))

    def kernel_args(self) -> tuple:
        """(mapping, alpha, sinr_min, max_efficiency, cqi_thresholds, cqi_efficiency) for the njit kernels."""
        return (self.mapping, self.alpha, self.sinr_min, self.max_efficiency, self.cqi_thresholds, self.cqi_efficiency)


def _as_1d(sinr_linear) -> tuple[np.ndarray, tuple]:
    arr = np.asarray(sinr_linear, dtype=np.float64)
    return np.ascontiguousarray(arr.reshape(-1)), arr.shape


def spectral_efficiency(sinr_linear, mapping: str = "shannon", params: ShannonParams = DOWNLINK) -> np.ndarray:
    """Spectral efficiency [bit/s/Hz] of linear SINRs (any shape); `params=UPLINK` for the 36.942 uplink curve."""
    flat, shape = _as_1d(sinr_linear)
    lm = LinkMapping.create(mapping, params)
    out = np.empty_like(flat)
    efficiency_kernel(flat, *lm.kernel_args(), out)
    return out.reshape(shape)


def bits_per_prb(
    sinr_linear, mapping: str = "shannon", tti_s: float = TTI_S,
    prb_bandwidth_hz: float = PRB_BANDWIDTH_HZ, params: ShannonParams = DOWNLINK,
) -> np.ndarray:
    """Bits per PRB per TTI of linear SINRs: efficiency × 180 kHz × TTI (792 bit at the 4.4 bit/s/Hz cap, 1 ms)."""
    flat, shape = _as_1d(sinr_linear)
    lm = LinkMapping.create(mapping, params)
    out = np.empty_like(flat)
    bits_per_prb_kernel(flat, *lm.kernel_args(), float(prb_bandwidth_hz), float(tti_s), out)
    return out.reshape(shape)
