"""`compare(models, train, test)`: several models on the same split, a leaderboard, and
paired significance tests so that "A beats B" comes with a p-value.

Paired tests
------------
Every model is evaluated on the same users, so for a per-user metric the values of models
A and B form pairs :math:`(x_{A,u}, x_{B,u})` over the users both were evaluated on (users
with NaN in either are left out; ``n_users`` says how many remained). For each pair of models
and each per-user metric:

- **paired t-test** (`scipy.stats.ttest_rel`) on the differences :math:`d_u = x_{A,u} - x_{B,u}`:
  :math:`t = \\bar d / (s_d / \\sqrt{n})` with n - 1 degrees of freedom, two-sided;
- **Wilcoxon signed-rank test** (`scipy.stats.wilcoxon`, zero differences dropped as in
  Wilcoxon's original method), two-sided — it does not assume the differences are normal,
  which per-user metrics (many zeros, bounded) rarely are.

When every difference is exactly 0 (two models with the same lists), both p-values are 1
(no evidence of a difference) rather than undefined.

Multiple comparisons: with m models there are m(m-1)/2 pairs per metric. The p-values of
one metric and one test form a family and are adjusted with **Holm's step-down method**
(controls the family-wise error rate at ``alpha`` without assuming independence): sort the
m' defined p-values :math:`p_{(1)} \\le \\dots \\le p_{(m')}`, then
:math:`\\tilde p_{(i)} = \\max_{j \\le i} \\min(1, (m' - j + 1)\\, p_{(j)})`.
A difference is reported as ``significant`` when its Holm-adjusted t-test p-value is below
``alpha``. Batch metrics (coverage, gini, personalisation) are one number per model and are
not tested.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from likewise.data.interactions import Interactions
from likewise.evaluation._protocol import EvaluationProtocol, Lists, jsonable, records, resolve_protocol
from likewise.evaluation._registry import BATCH_METRICS, CURVE_METRICS, LOWER_IS_BETTER, REGISTRY, ListContext
from likewise.evaluation.evaluate import EvaluationResult, run_evaluation
from likewise.exceptions import InvalidParameterError
from likewise.models.base import Recommender

__all__ = ["CURVE_METRICS", "LOWER_IS_BETTER", "Comparison", "compare", "holm", "paired_tests"]

ProgressCallback = Callable[[str, str], None]
"""Called with (model name, stage) where stage is "fit", "evaluate" or "done"."""


@dataclass(frozen=True, eq=False)
class Comparison:
    """What `compare` measured.

    Attributes
    ----------
    results : dict of str -> EvaluationResult
        Each model's full evaluation (per-user values, summary with intervals, info).
    leaderboard : pandas.DataFrame
        One row per model, best first by ``primary``: ``model``, then for each metric its
        mean and ``<metric>_ci_low`` / ``<metric>_ci_high``, then ``fit_s`` (NaN when the
        model came fitted).
    tests : pandas.DataFrame
        One row per (metric, pair of models): ``metric``, ``model_a``, ``model_b``,
        ``n_users``, ``mean_a``, ``mean_b``, ``mean_diff`` (a - b over the paired users),
        ``t_statistic``, ``p_ttest``, ``p_ttest_holm``, ``w_statistic``, ``p_wilcoxon``,
        ``p_wilcoxon_holm``, ``better`` (the model with the better mean) and ``significant``.
    curves : pandas.DataFrame
        ``model``, ``k``, ``metric``, ``value``: ranking metrics at every cut-off 1..``curve_k``
        from the same lists (means over the users with a relevant item).
    fit_seconds : dict of str -> float
        Fit time of each model fitted by `compare`.
    history : dict of str -> list of dict
        Per-epoch values a model reported through the fit callback (``{"epoch": 1, "loss": ...}``).
    primary : str
        The metric the leaderboard is sorted by.
    info : dict
        Settings: k, candidates, relevance, alpha, the test families, users evaluated...
    """

    results: dict[str, EvaluationResult]
    leaderboard: pd.DataFrame
    tests: pd.DataFrame
    curves: pd.DataFrame
    fit_seconds: dict[str, float]
    history: dict[str, list[dict[str, float]]]
    primary: str
    info: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, Lists] = field(default_factory=dict, repr=False)

    @property
    def models(self) -> list[str]:
        """Model names in leaderboard order (best first)."""
        return [str(name) for name in self.leaderboard["model"]]

    def p_value(
        self,
        model_a: str,
        model_b: str,
        metric: str | None = None,
        *,
        test: Literal["ttest", "wilcoxon"] = "ttest",
        corrected: bool = True,
    ) -> float:
        """The p-value of "model_a and model_b differ on metric" (order does not matter).

        Parameters
        ----------
        model_a, model_b : str
            Model names.
        metric : str, optional
            Default: the primary metric.
        test : {"ttest", "wilcoxon"}
        corrected : bool
            Holm-adjusted (default) or raw.

        Returns
        -------
        float
        """
        metric = metric or self.primary
        if test not in ("ttest", "wilcoxon"):
            raise InvalidParameterError(f"test must be 'ttest' or 'wilcoxon', got {test!r}")
        rows = self.tests[
            (self.tests["metric"] == metric)
            & (
                ((self.tests["model_a"] == model_a) & (self.tests["model_b"] == model_b))
                | ((self.tests["model_a"] == model_b) & (self.tests["model_b"] == model_a))
            )
        ]
        if rows.empty:
            raise KeyError(f"no test of {model_a!r} against {model_b!r} on {metric!r}")
        column = f"p_{test}" + ("_holm" if corrected else "")
        return float(rows.iloc[0][column])

    def to_dict(self, *, per_user: bool = False) -> dict[str, Any]:
        """A JSON-able dict of everything (NaN becomes None).

        Parameters
        ----------
        per_user : bool
            Include each model's per-user table.

        Returns
        -------
        dict
        """
        return {
            "primary": self.primary,
            "info": jsonable(self.info),
            "leaderboard": records(self.leaderboard),
            "tests": records(self.tests),
            "curves": records(self.curves),
            "fit_seconds": jsonable(self.fit_seconds),
            "history": jsonable(self.history),
            "results": {name: result.to_dict(per_user=per_user) for name, result in self.results.items()},
        }

    def __repr__(self) -> str:
        shown = [c for c in self.leaderboard.columns if not c.endswith(("_ci_low", "_ci_high"))]
        return (
            f"<Comparison of {len(self.results)} models, k={self.info.get('k')}, primary={self.primary}>\n"
            f"{self.leaderboard[shown].to_string(index=False)}"
        )


def compare(
    models: Mapping[str, Recommender],
    train: Interactions,
    test: Interactions,
    *,
    k: int = 10,
    metrics: Sequence[str] | str | None = None,
    relevance_threshold: float | None = None,
    relevance: Literal["binary", "graded"] = "binary",
    n_negatives: int | None = None,
    exclude_seen: bool = True,
    fit: bool | Literal["auto"] = "auto",
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    alpha: float = 0.05,
    curve_k: int | None = None,
    primary: str | None = None,
    random_state: int = 0,
    progress: ProgressCallback | None = None,
    protocol: EvaluationProtocol | None = None,
) -> Comparison:
    """Evaluate several models on the same split and test their differences.

    Parameters
    ----------
    models : mapping of str -> Recommender
        Display name -> model.
    train, test : Interactions
        The split every model uses (fitted on ``train`` when needed, evaluated on ``test``).
    k, metrics, relevance_threshold, relevance, n_negatives, exclude_seen, n_bootstrap, confidence
        As in `evaluate`; the same for every model. With ``n_negatives`` every model ranks the
        same sampled candidates (the sample depends on the seed, the users and the training
        data, not on the model).
    fit : bool or "auto"
        True: fit every model on ``train`` (refitting fitted ones); False: use them as they
        are; "auto" (default): fit the models that are not fitted yet.
    alpha : float
        Family-wise error rate for ``significant`` (Holm-adjusted t-test).
    curve_k : int, optional
        Largest cut-off of the metric-vs-k curves (default ``max(k, 20)``; the lists are
        computed once at this length).
    primary : str, optional
        The metric the leaderboard is sorted by (default: the first of ndcg, map, precision,
        recall, rmse, mae that was evaluated).
    random_state : int
        Seed of the bootstrap (and sampled negatives), the same for every model so their
        intervals resample the same users.
    progress : callable, optional
        ``progress(name, stage)`` before each model's "fit" and "evaluate" and after it is "done".
    protocol : EvaluationProtocol, optional
        The evaluation settings (k, metrics, relevance_threshold, relevance, n_negatives,
        exclude_seen, n_bootstrap, confidence, random_state) in one object instead of the
        keywords, which must then stay at their defaults.

    Returns
    -------
    Comparison

    Raises
    ------
    InvalidParameterError
        For an empty mapping, a value that is not a Recommender, or bad evaluation settings.
    """
    if not isinstance(models, Mapping) or not models:
        raise InvalidParameterError("models must be a non-empty mapping of name -> Recommender")
    for name, model in models.items():
        if not isinstance(model, Recommender):
            raise InvalidParameterError(f"models[{name!r}] must be a likewise Recommender, got {type(model).__name__}")
    if fit not in (True, False, "auto"):
        raise InvalidParameterError(f"fit must be True, False or 'auto', got {fit!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 < alpha < 1.0:
        raise InvalidParameterError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    curve_k = max(k if protocol is None else protocol.k, 20) if curve_k is None else curve_k
    if isinstance(curve_k, bool) or not isinstance(curve_k, (int, np.integer)) or curve_k < 1:
        raise InvalidParameterError(f"curve_k must be a positive integer, got {curve_k!r}")
    settings = resolve_protocol(
        protocol,
        k=k,
        metrics=metrics,
        relevance_threshold=relevance_threshold,
        relevance=relevance,
        n_negatives=n_negatives,
        exclude_seen=exclude_seen,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        random_state=random_state,
    )

    results: dict[str, EvaluationResult] = {}
    lists: dict[str, Lists] = {}
    fit_seconds: dict[str, float] = {}
    history: dict[str, list[dict[str, float]]] = {}
    for name, model in models.items():
        name = str(name)
        if fit is True or (fit == "auto" and not model.is_fitted):
            if progress:
                progress(name, "fit")
            epochs: list[dict[str, float]] = []
            start = time.perf_counter()
            model.fit(train, callback=_recorder(epochs))
            fit_seconds[name] = time.perf_counter() - start
            if epochs:
                history[name] = epochs
        if progress:
            progress(name, "evaluate")
        result, model_lists = run_evaluation(model, train, test, settings, list_length=curve_k)
        results[name] = result
        if model_lists is not None:
            lists[name] = model_lists
        if progress:
            progress(name, "done")

    metric_names = list(next(iter(results.values())).info["metrics"])
    if primary is None:
        primary = _primary(metric_names)
    elif primary not in metric_names:
        raise InvalidParameterError(f"primary metric {primary!r} was not evaluated; metrics are {metric_names}")
    leaderboard = _leaderboard(results, metric_names, fit_seconds, primary)
    ordered = {str(name): results[str(name)] for name in leaderboard["model"]}
    tests = paired_tests(ordered, alpha=alpha)  # model_a is the better-ranked of each pair
    curves = _curves(lists, curve_k)
    first = next(iter(results.values())).info
    info = {
        "k": settings.k,
        "metrics": metric_names,
        "models": {name: repr(model) for name, model in models.items()},
        "relevance_threshold": first.get("relevance_threshold"),
        "relevance": settings.relevance,
        "candidates": first.get("candidates"),
        "n_negatives": settings.n_negatives,
        "exclude_seen": bool(settings.exclude_seen),
        "n_users_evaluated": {name: r.info.get("n_users_evaluated") for name, r in results.items()},
        "n_users_skipped": first.get("n_users_skipped"),
        "confidence": first.get("confidence"),
        "n_bootstrap": first.get("n_bootstrap"),
        "alpha": alpha,
        "tests": "paired t-test and Wilcoxon signed-rank over users, Holm-adjusted per metric and test",
        "curve_k": curve_k,
        "n_train_interactions": train.nnz,
        "n_test_interactions": test.nnz,
        "random_state": settings.random_state,
    }
    return Comparison(
        results=results,
        leaderboard=leaderboard,
        tests=tests,
        curves=curves,
        fit_seconds=fit_seconds,
        history=history,
        primary=primary,
        info=info,
        lists=lists,
    )


def _recorder(epochs: list[dict[str, float]]) -> Callable[[int, dict[str, float]], None]:
    def record(epoch: int, values: dict[str, float]) -> None:
        epochs.append({"epoch": int(epoch), **{str(k): float(v) for k, v in values.items()}})

    return record


def _primary(metric_names: list[str]) -> str:
    for preferred in ("ndcg", "map", "precision", "recall", "rmse", "mae"):
        if preferred in metric_names:
            return preferred
    return metric_names[0]


def _leaderboard(
    results: dict[str, EvaluationResult], metric_names: list[str], fit_seconds: dict[str, float], primary: str
) -> pd.DataFrame:
    rows = []
    for name, result in results.items():
        summary = {str(r["metric"]): r for r in result.summary.to_dict("records")}
        row: dict[str, Any] = {"model": name}
        for metric in metric_names:
            row[metric] = float(summary[metric]["mean"])
            row[f"{metric}_ci_low"] = float(summary[metric]["ci_low"])
            row[f"{metric}_ci_high"] = float(summary[metric]["ci_high"])
        row["fit_s"] = fit_seconds.get(name, math.nan)
        rows.append(row)
    frame = pd.DataFrame(rows)
    ascending = primary in LOWER_IS_BETTER
    frame = frame.sort_values(primary, ascending=ascending, na_position="last", kind="stable")
    return frame.reset_index(drop=True)


def _curves(lists: dict[str, Lists], curve_k: int) -> pd.DataFrame:
    rows = []
    for name, lst in lists.items():
        if lst.recs.shape[0] == 0:
            continue
        for cut in range(1, curve_k + 1):
            context = ListContext(
                lists=lst.recs,
                k=cut,
                relevant=lst.relevant,
                gains=lst.gains,
                popularity=lst.popularity,
                n_train_users=0,
                n_items=lst.n_items,
                item_features=_no_features,
            )
            for metric in CURVE_METRICS:
                compute = REGISTRY[metric].compute
                assert compute is not None
                rows.append((name, cut, metric, float(np.nanmean(compute(context)))))
    return pd.DataFrame(rows, columns=["model", "k", "metric", "value"])


def _no_features() -> Any:
    raise AssertionError("curve metrics do not read item features")


# --------------------------------------------------------------------------- tests


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN entries stay NaN and do not
    count towards the family size).

    .. math:: \\tilde p_{(i)} = \\max_{j \\le i} \\min\\left(1, (m - j + 1)\\, p_{(j)}\\right)

    Parameters
    ----------
    p_values : sequence of float
        Raw p-values in [0, 1] (NaN allowed).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    out = np.full(p.shape, np.nan)
    defined = np.flatnonzero(~np.isnan(p))
    if defined.size == 0:
        return out
    if (p[defined] < 0).any() or (p[defined] > 1).any():
        raise InvalidParameterError("p-values must lie in [0, 1]")
    m = defined.size
    order = defined[np.argsort(p[defined], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def paired_tests(
    results: Mapping[str, EvaluationResult],
    metrics: Sequence[str] | None = None,
    *,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Paired t-tests and Wilcoxon signed-rank tests between every pair of models, per metric,
    over the users both were evaluated on, with Holm's correction (see the module docstring).

    Parameters
    ----------
    results : mapping of str -> EvaluationResult
        Evaluations of several models on the same test users (e.g. ``Comparison.results``,
        or `evaluate` results collected by hand).
    metrics : sequence of str, optional
        Per-user metrics to test (default: every per-user metric all results share).
    alpha : float
        Threshold of the ``significant`` column (Holm-adjusted t-test p-value).

    Returns
    -------
    pandas.DataFrame
        The ``tests`` table described in `Comparison`.
    """
    from scipy import stats

    names = [str(name) for name in results]
    frames = {str(name): result.per_user for name, result in results.items()}
    if metrics is None:
        shared = [set(frame.columns) for frame in frames.values()]
        first = next(iter(results.values())).info.get("metrics", []) if results else []
        metrics = [m for m in first if m not in BATCH_METRICS and all(m in cols for cols in shared)]
    columns = [
        "metric",
        "model_a",
        "model_b",
        "n_users",
        "mean_a",
        "mean_b",
        "mean_diff",
        "t_statistic",
        "p_ttest",
        "p_ttest_holm",
        "w_statistic",
        "p_wilcoxon",
        "p_wilcoxon_holm",
        "better",
        "significant",
    ]
    records: list[dict[str, Any]] = []
    for metric in metrics:
        family: list[dict[str, Any]] = []
        for a, b in itertools.combinations(names, 2):
            if metric not in frames[a] or metric not in frames[b]:
                raise InvalidParameterError(f"metric {metric!r} is not in the per-user results of {a!r} and {b!r}")
            merged = frames[a][["user", metric]].merge(frames[b][["user", metric]], on="user", suffixes=("_a", "_b"))
            x = merged[f"{metric}_a"].to_numpy(dtype=np.float64)
            y = merged[f"{metric}_b"].to_numpy(dtype=np.float64)
            ok = ~(np.isnan(x) | np.isnan(y))
            x, y = x[ok], y[ok]
            t_stat, p_t, w_stat, p_w = _pair_stats(x, y, stats)
            mean_a = float(x.mean()) if x.size else math.nan
            mean_b = float(y.mean()) if y.size else math.nan
            family.append(
                {
                    "metric": metric,
                    "model_a": a,
                    "model_b": b,
                    "n_users": int(x.size),
                    "mean_a": mean_a,
                    "mean_b": mean_b,
                    "mean_diff": mean_a - mean_b,
                    "t_statistic": t_stat,
                    "p_ttest": p_t,
                    "w_statistic": w_stat,
                    "p_wilcoxon": p_w,
                }
            )
        adjusted_t = holm([row["p_ttest"] for row in family])
        adjusted_w = holm([row["p_wilcoxon"] for row in family])
        for row, p_t_adj, p_w_adj in zip(family, adjusted_t, adjusted_w, strict=True):
            row["p_ttest_holm"] = float(p_t_adj)
            row["p_wilcoxon_holm"] = float(p_w_adj)
            diff = row["mean_diff"]
            if not math.isfinite(diff) or diff == 0:
                row["better"] = None
            else:
                a_better = diff < 0 if metric in LOWER_IS_BETTER else diff > 0
                row["better"] = row["model_a"] if a_better else row["model_b"]
            row["significant"] = bool(row["better"] is not None and p_t_adj < alpha)
            records.append(row)
    return pd.DataFrame(records, columns=columns)


def _pair_stats(x: np.ndarray, y: np.ndarray, stats: Any) -> tuple[float, float, float, float]:
    """(t, p_t, W, p_W) for paired samples; 1.0 p-values when every difference is 0."""
    if x.size < 2:
        return math.nan, math.nan, math.nan, math.nan
    diff = x - y
    if np.all(diff == 0):
        return 0.0, 1.0, 0.0, 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t_res = stats.ttest_rel(x, y)
        t_stat, p_t = float(t_res.statistic), float(t_res.pvalue)
        if not math.isfinite(p_t) and np.all(diff == diff[0]):
            # constant non-zero difference: zero variance, infinitely strong evidence
            t_stat, p_t = math.copysign(math.inf, float(diff[0])), 0.0
        try:
            w_res = stats.wilcoxon(x, y)
            w_stat, p_w = float(w_res.statistic), float(w_res.pvalue)
        except ValueError:
            w_stat, p_w = math.nan, math.nan
    return t_stat, p_t, w_stat, p_w
