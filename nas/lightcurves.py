"""Synthetic light curves in LARUN's six classes, generated deterministically from a seed.

Each curve is relative stellar flux sampled at 1024 cadences over 27.4 days (one TESS sector at
~38.5 min), normalised to 1 and then perturbed by:
- white noise: photon/read noise, Gaussian, sigma 0.3-2 ppt per cadence;
- red noise: stellar granulation and pointing jitter, an AR(1) process (correlation time 0.1-1 d)
  with sigma 0.2-1.5 ppt.
Classes (the signal added on top of the noise):
0 noise          nothing else.
1 variability    rotational spot modulation: a fundamental at P_rot in 0.5-12 d plus its first
                 harmonic, amplitudes 1-15 ppt, slowly evolving; or pulsation: 2-4 modes with
                 periods 0.03-0.4 d (delta Scuti / gamma Dor range), 0.5-5 ppt.
2 transit        a planet on a circular orbit, period 1.5-9 d, radius ratio k 0.03-0.12 (depth
                 ~k^2, 1-14 ppt), impact parameter 0-0.8, duration from a/R* ~ Kepler's third
                 law for a Sun-like star. Quadratic limb darkening (u1 0.4, u2 0.25, Sun-like in
                 the TESS band) in the small-planet approximation: the dip at projected separation
                 r is k^2 I(mu)/<I>, mu = sqrt(1 - r^2), <I> = 1 - u1/3 - u2/6, with a linear
                 ingress/egress while the planet crosses the limb.
3 eclipsing      an eclipsing binary: primary eclipses 5-40 % deep, secondary at phase 0.5
                 (or 0.4-0.6 when eccentric) 10-70 % of the primary's depth, each a smooth
                 V/U-shaped dip; plus ellipsoidal variation (cos 4 pi phase, 0.5-3 ppt).
4 artifact       instrumental: a flux jump (0.5-5 ppt step), a thermal ramp after a data gap
                 (exponential settle, tau 0.2-1 d), isolated outliers (cosmic rays, 5-30 sigma),
                 and gaps filled with the median (zero after normalisation), 2-3 of these each.
5 anomaly        a single non-periodic event: a stellar flare (rise 5-30 min, exponential decay
                 0.05-0.3 d, 5-60 ppt) or a microlensing-like bump (Paczynski curve,
                 A(u) = (u^2 + 2) / (u sqrt(u^2 + 4)), u0 0.1-1, tE 0.5-4 d, blended to 5-50 ppt).
Curves are z-normalised per series, as classifiers of this kind are usually fed.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("noise", "variability", "transit", "eclipsing_binary", "artifact", "anomaly")
LENGTH = 1024
SECTOR_DAYS = 27.4
U1, U2 = 0.4, 0.25  # quadratic limb darkening, Sun-like star in the TESS band (Claret 2017)


def _noise(rng: np.random.Generator, n: int, dt: float) -> np.ndarray:
    white = rng.normal(0, rng.uniform(0.3e-3, 2e-3), n)
    tau = rng.uniform(0.1, 1.0)
    phi = np.exp(-dt / tau)
    sigma_r = rng.uniform(0.2e-3, 1.5e-3)
    innov = rng.normal(0, sigma_r * np.sqrt(1 - phi**2), n)
    red = np.empty(n)
    red[0] = rng.normal(0, sigma_r)
    for i in range(1, n):
        red[i] = phi * red[i - 1] + innov[i]
    return white + red


def _variability(rng, t):
    if rng.random() < 0.5:
        p = rng.uniform(0.5, 12.0)
        a1, a2 = rng.uniform(1e-3, 15e-3), rng.uniform(0, 5e-3)
        envelope = 1 + 0.3 * np.sin(2 * np.pi * t / rng.uniform(20, 60) + rng.uniform(0, 6.3))
        ph = rng.uniform(0, 2 * np.pi, 2)
        return envelope * (a1 * np.sin(2 * np.pi * t / p + ph[0]) + a2 * np.sin(4 * np.pi * t / p + ph[1]))
    flux = np.zeros_like(t)
    for _ in range(rng.integers(2, 5)):
        flux += rng.uniform(0.5e-3, 5e-3) * np.sin(2 * np.pi * t / rng.uniform(0.03, 0.4) + rng.uniform(0, 6.3))
    return flux


def _transit(rng, t):
    period = rng.uniform(1.5, 9.0)
    k = rng.uniform(0.03, 0.12)
    b = rng.uniform(0.0, 0.8)
    a_over_r = 4.2 * period ** (2 / 3)  # Kepler's third law, 1 M_sun, 1 R_sun, P in days
    t0 = rng.uniform(0, period)
    phase = ((t - t0 + period / 2) % period) - period / 2  # days from mid-transit
    x = a_over_r * np.sin(2 * np.pi * phase / period)  # sky-projected separation along the chord
    r = np.sqrt(x**2 + b**2)
    mu = np.sqrt(np.clip(1 - np.minimum(r, 1) ** 2, 0, 1))
    intensity = (1 - U1 * (1 - mu) - U2 * (1 - mu) ** 2) / (1 - U1 / 3 - U2 / 6)
    covered = np.clip((1 + k - r) / (2 * k), 0, 1)  # fraction of the planet disc on the star
    in_front = np.abs(phase) < period / 4
    return -(k**2) * intensity * covered * in_front


def _eclipsing(rng, t):
    period = rng.uniform(0.5, 8.0)
    t0 = rng.uniform(0, period)
    phase = ((t - t0) / period) % 1.0
    d1 = rng.uniform(0.05, 0.4)
    d2 = d1 * rng.uniform(0.1, 0.7)
    width = rng.uniform(0.02, 0.08)  # eclipse half-width in phase
    shape = rng.uniform(1.0, 3.0)  # 1 = V-shaped (grazing), larger = flatter U
    sec = 0.5 if rng.random() < 0.6 else rng.uniform(0.4, 0.6)

    def dip(center):
        d = np.abs(((phase - center + 0.5) % 1.0) - 0.5) / width
        return np.clip(1 - d, 0, 1) ** (1 / shape)

    ellipsoidal = rng.uniform(0.5e-3, 3e-3) * np.cos(4 * np.pi * phase)
    return -d1 * dip(0.0) - d2 * dip(sec) - ellipsoidal


def _artifact(rng, t, sigma):
    flux = np.zeros_like(t)
    n = len(t)
    kinds = rng.choice(["jump", "ramp", "outliers", "gap"], size=rng.integers(2, 4), replace=False)
    gap_mask = np.zeros(n, bool)
    for kind in kinds:
        at = rng.integers(n // 8, 7 * n // 8)
        if kind == "jump":
            flux[at:] += rng.choice([-1, 1]) * rng.uniform(0.5e-3, 5e-3)
        elif kind == "ramp":
            tau = rng.uniform(0.2, 1.0)
            dt = np.clip(t - t[at], 0, None)
            flux += np.where(t >= t[at], -rng.uniform(1e-3, 8e-3) * np.exp(-dt / tau), 0)
        elif kind == "outliers":
            idx = rng.choice(n, rng.integers(3, 12), replace=False)
            flux[idx] += rng.choice([-1, 1], len(idx)) * rng.uniform(5, 30, len(idx)) * sigma
        else:
            gap_mask[at : at + rng.integers(20, 80)] = True
    return flux, gap_mask


def _anomaly(rng, t):
    t0 = rng.uniform(t[0] + 2, t[-1] - 2)
    if rng.random() < 0.5:
        amp = rng.uniform(5e-3, 60e-3)
        rise = rng.uniform(5, 30) / 1440
        decay = rng.uniform(0.05, 0.3)
        return np.where(t < t0, amp * np.exp(-(((t - t0) / rise) ** 2)), amp * np.exp(-(t - t0) / decay))
    u0, t_e = rng.uniform(0.1, 1.0), rng.uniform(0.5, 4.0)
    u = np.sqrt(u0**2 + ((t - t0) / t_e) ** 2)
    magnification = (u**2 + 2) / (u * np.sqrt(u**2 + 4))
    blend = rng.uniform(5e-3, 50e-3) / (magnification.max() - 1)
    return blend * (magnification - 1)


def generate(per_class: int = 256, seed: int = 0, length: int = LENGTH) -> tuple[np.ndarray, np.ndarray]:
    """x (per_class * 6, length, 1) float32 z-normalised, y (int) class indices, shuffled."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, SECTOR_DAYS, length)
    dt = t[1] - t[0]
    xs, ys = [], []
    for label in range(len(CLASSES)):
        for _ in range(per_class):
            noise = _noise(rng, length, dt)
            gaps = None
            if label == 0:
                signal = 0.0
            elif label == 1:
                signal = _variability(rng, t)
            elif label == 2:
                signal = _transit(rng, t)
            elif label == 3:
                signal = _eclipsing(rng, t)
            elif label == 4:
                signal, gaps = _artifact(rng, t, noise.std())
            else:
                signal = _anomaly(rng, t)
            flux = 1.0 + signal + noise
            if gaps is not None:
                flux[gaps] = np.median(flux)
            xs.append((flux - flux.mean()) / (flux.std() + 1e-12))
            ys.append(label)
    order = rng.permutation(len(xs))
    x = np.asarray(xs, np.float32)[order, :, None]
    return x, np.asarray(ys, np.int64)[order]
