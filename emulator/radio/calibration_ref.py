"""Published 3GPP TR 38.901 phase-1 (large-scale) calibration results at 6 GHz, R1-165974, as percentile tables.

Source: the per-company CDFs of R1-165974 ("Phase1Calibration_v42_CMCC.xlsx", 20 companies: Huawei, CATT,
ITRI, LGE, IDCC, CHTTL, Samsung, Intel, Sharp, CATR, ZTE, Ericsson, NTT DOCOMO, Nokia, Qualcomm, Xinwei,
CMCC, Lenovo, KDDI, ETRI), as tabulated at percentiles 0..100 in NVIDIA Aerial's
testBenches/chanModels/util/3gpp_calibration_phase1.json (public GitHub mirror
Felicialalala/aerial-cuda-accelerated-ran, commit 654c2491). Reduced here, per percentile, to the mean,
minimum and maximum over the companies (what "the published 3GPP mean curve and its spread" means below).
Cross-check: the means agree with the "median of all 3GPP calibration results" QuaDRiGa tabulates
(fraunhoferhhi/QuaDRiGa tutorials/calib_3GPP_ref_data.m, cl38900a / gf38900a) to ≤ 0.2 dB at 5/50/95 %.

Metrics (3GPP definitions, TR 38.901 §7.8.1): coupling gain to the serving cell [dB] (path loss, shadowing,
O2I loss and antenna gains; negative), geometry SIR [dB] (serving over the sum of all other cells, no noise)
and geometry SINR [dB] (with thermal noise over 20 MHz, UE noise figure 9 dB).

Caveat (UMa SINR): SINR ≤ SNR = coupling gain + 135.99 dB at 44 dBm / 20 MHz / NF 9 dB, so the UMa mean
coupling gain bounds the 5 % SINR by −14.28 dB, yet the published UMa mean 5 % SINR is −9.36 dB: the companies'
UMa SINR curves do not share one power/noise normalisation with their coupling-gain curves (UMi is consistent).
"""
from __future__ import annotations

PERCENTILES = (1, 2, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 98)
REFERENCE = {
    "38901-uma-6ghz": {
        "coupling_gain_db": {  # 20 companies
            "mean": (-159.17, -155.73, -150.27, -144.66, -140.54, -136.96, -133.89, -131.02, -128.36, -125.74, -123.09, -120.34, -117.56, -114.69, -111.83, -109.08, -106.13, -102.74, -98.81, -93.66, -86.06, -78.35),
            "min": (-162.24, -159.77, -153.88, -146.66, -142.85, -139.54, -136.54, -133.73, -130.92, -128.39, -125.71, -123.08, -120.13, -117.27, -113.86, -110.63, -107.66, -104.47, -100.64, -94.73, -87.33, -80.39),
            "max": (-154.21, -151.59, -147.54, -142.48, -138.30, -134.51, -131.31, -128.67, -126.13, -123.39, -120.75, -118.09, -115.49, -113.08, -110.38, -107.84, -104.76, -100.90, -96.92, -91.87, -83.35, -75.33),
        },
        "geometry_sir_db": {  # 20 companies
            "mean": (-2.85, -2.19, -0.98, 0.14, 1.07, 1.97, 2.93, 3.93, 4.96, 6.04, 7.26, 8.57, 9.89, 11.33, 12.95, 14.66, 16.51, 18.64, 20.94, 23.37, 25.54, 26.33),
            "min": (-3.47, -2.84, -1.35, -0.14, 0.73, 1.60, 2.46, 3.45, 4.45, 5.48, 6.62, 7.80, 9.02, 10.41, 11.91, 13.40, 15.23, 17.42, 19.86, 22.54, 24.82, 26.15),
            "max": (-2.47, -1.80, -0.60, 0.26, 1.62, 2.44, 3.39, 4.38, 5.44, 6.38, 7.58, 8.90, 10.35, 12.09, 14.04, 16.24, 17.89, 19.91, 21.99, 24.20, 25.86, 26.41),
        },
        "geometry_sinr_db": {  # 20 companies
            "mean": (-17.96, -14.58, -9.36, -4.57, -2.13, -0.66, 0.43, 1.42, 2.44, 3.52, 4.65, 5.84, 7.22, 8.71, 10.31, 12.01, 13.97, 16.19, 18.74, 21.73, 24.70, 26.04),
            "min": (-21.26, -18.80, -13.04, -6.08, -3.34, -1.56, -0.23, 0.74, 1.73, 2.88, 4.12, 5.37, 6.64, 8.07, 9.63, 11.36, 13.01, 15.10, 17.70, 20.74, 24.09, 25.78),
            "max": (-12.96, -10.52, -6.78, -3.30, -1.47, -0.19, 1.36, 2.35, 3.32, 4.14, 5.05, 6.34, 7.70, 9.35, 11.38, 13.24, 15.78, 17.85, 20.09, 23.01, 25.09, 26.17),
        },
    },
    "38901-umi-6ghz": {
        "coupling_gain_db": {  # 20 companies
            "mean": (-152.38, -148.42, -142.31, -136.41, -132.40, -128.98, -125.83, -122.96, -120.31, -117.65, -115.05, -112.30, -109.54, -106.49, -103.33, -99.96, -96.27, -92.33, -87.67, -82.11, -74.81, -68.44),
            "min": (-158.07, -152.41, -145.96, -140.03, -135.53, -132.09, -129.01, -126.21, -123.36, -120.48, -117.68, -114.92, -112.26, -109.08, -105.63, -102.21, -98.59, -95.03, -89.97, -83.64, -77.19, -70.06),
            "max": (-150.27, -146.78, -140.09, -134.85, -130.90, -127.52, -124.05, -120.96, -118.39, -115.47, -112.82, -110.54, -107.77, -104.40, -101.61, -98.51, -94.97, -90.81, -86.17, -80.37, -73.53, -67.58),
        },
        "geometry_sir_db": {  # 20 companies
            "mean": (-3.61, -2.89, -1.68, -0.48, 0.39, 1.22, 2.08, 2.99, 3.95, 4.99, 6.11, 7.32, 8.56, 9.90, 11.42, 13.02, 14.91, 16.99, 19.45, 22.08, 24.85, 26.14),
            "min": (-4.22, -3.43, -2.02, -0.86, 0.02, 0.65, 1.55, 2.30, 3.12, 4.08, 4.86, 6.54, 7.69, 9.06, 10.51, 11.84, 13.96, 16.01, 18.30, 20.95, 23.86, 25.79),
            "max": (-3.14, -2.35, -1.50, -0.28, 0.54, 1.44, 2.39, 3.44, 4.49, 5.42, 6.48, 7.74, 9.06, 10.47, 12.21, 13.95, 15.70, 17.75, 20.40, 23.48, 25.56, 26.55),
        },
        "geometry_sinr_db": {  # 20 companies
            "mean": (-16.19, -12.43, -6.98, -3.23, -1.58, -0.46, 0.47, 1.37, 2.30, 3.30, 4.35, 5.51, 6.79, 8.16, 9.62, 11.31, 13.13, 15.26, 17.78, 20.71, 23.93, 25.78),
            "min": (-22.11, -16.52, -10.40, -5.27, -2.63, -1.49, -0.39, 0.59, 1.61, 2.61, 3.42, 4.48, 5.82, 7.20, 8.67, 10.25, 11.99, 14.11, 16.32, 19.28, 22.84, 25.23),
            "max": (-14.06, -10.88, -5.55, -2.51, -1.09, -0.00, 1.03, 2.01, 2.80, 3.96, 4.90, 5.99, 7.46, 8.64, 10.21, 11.96, 13.82, 16.00, 18.60, 22.06, 24.69, 26.07),
        },
    },
}
