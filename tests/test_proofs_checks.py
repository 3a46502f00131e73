"""The proofs_checks suite: its reference computations, and that it fails on broken calibrators."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from proofs_checks import LIBRARY, MUTANTS, PROFILES, Profile, Setting, lemma_4_1, lemma_4_2, run_suite
from proofs_checks import __main__ as cli
from proofs_checks.devices import map_trials
from proofs_checks.population import CoverLaw, PopulationLaw, build_population, cover_law, threshold_law
from proofs_checks.records import ONE_SIDED_Z, binomial_upper_limit
from proofs_checks.trials import run_setting
from racer_jax import calibrate, misrouting_loss, population_risk

# Continuous-like law: inverse score, learned null head, atoms of mass at most 1/4096
# except the shared one at the unanswerable queries' cover score, far from any threshold here.
K7_LAW = PopulationLaw("k7-test", 7, "calibrated", 0.15, "inverse", "learned", population_size=4096)
K1_LAW = PopulationLaw("k1-test", 1, "calibrated", 0.3, "inverse", "one-minus-max", population_size=4096)
TRIALS = 2000
K7_SETTING = Setting("k7 n=100", K7_LAW, 100, 0.1, 0.1, TRIALS, ("binomial", "crc"))
K1_SETTING = Setting("k1 n=30", K1_LAW, 30, 0.1, 0.1, TRIALS, ("binomial",))
MUTATION_PROFILE = Profile("mutation", (K7_SETTING, K1_SETTING), 0, (), 100)

# Where each mutant must break Theorem 4.3, and why it does with overwhelming probability
# (checked exactly in test_mutants_are_detectable):
# - double-alpha: k* for alpha = 0.2 makes P(R > 0.1) about 0.9 on n = 100, against delta = 0.1;
# - no-delta-correction: k = ceil(alpha n) - 1 = 9 puts the threshold at the empirical
#   alpha-quantile, so P(R > alpha) is about 0.45;
# - one-rank-lower: the conformal mean risk becomes (k* + 2)/(n + 1) = 0.109 > alpha, about 13
#   standard errors at 2000 trials; on n = 30 the binomial rule's k* = 0 becomes 1 and
#   P(R > 0.1) = P(Bin(30, 0.1) <= 1), about 0.18, against delta = 0.1.
EXPECTED_FAILURES = {
    "double-alpha": [("k7 n=100", "binomial")],
    "no-delta-correction": [("k7 n=100", "binomial")],
    "one-rank-lower": [("k7 n=100", "crc"), ("k1 n=30", "binomial")],
}


def _effective_count(mutant: str, rule: str, setting: Setting) -> int:
    count = MUTANTS[mutant].error_count(rule, setting.n, setting.alpha, setting.delta)
    return count + 1 if mutant == "one-rank-lower" else count


@pytest.fixture(scope="module")
def library_report():
    return run_suite(MUTATION_PROFILE, LIBRARY, seed=11)


def _failed(report, statement):
    return {(c["setting"], c["rule"]) for c in report["checks"] if c["statement"] == statement and c["status"] == "fail"}


def test_library_calibrator_passes(library_report):
    assert library_report["passed"]
    assert library_report["summary"]["fail"] == 0
    assert library_report["summary"]["pass"] >= 10


@pytest.mark.parametrize("mutant", sorted(EXPECTED_FAILURES))
def test_mutants_are_detectable(mutant):
    settings = {s.name: s for s in MUTATION_PROFILE.settings}
    for setting_name, rule in EXPECTED_FAILURES[mutant]:
        setting = settings[setting_name]
        law = threshold_law(cover_law(build_population(setting.law)), setting.n,
                            _effective_count(mutant, rule, setting), setting.alpha)
        if rule == "crc":
            # Mean-risk excess over alpha in exact standard errors, beyond the check's own z.
            excess = (law.expected_risk - setting.alpha) / (law.risk_sd / np.sqrt(setting.trials))
            assert excess > ONE_SIDED_Z + 6
        else:
            limit = binomial_upper_limit(setting.trials, setting.delta)
            miss = stats.binom.cdf(limit, setting.trials, law.violation_probability)
            assert miss < 1e-9


@pytest.mark.parametrize("mutant", sorted(EXPECTED_FAILURES))
def test_suite_catches_mutant(mutant):
    report = run_suite(MUTATION_PROFILE, MUTANTS[mutant], seed=11)
    assert not report["passed"]
    assert report["calibrator"] == mutant
    failed = _failed(report, "Theorem 4.3")
    for expected in EXPECTED_FAILURES[mutant]:
        assert expected in failed
    # The exact-law checks compare with the correct k*, so every mutant breaks them too.
    assert _failed(report, "Exact law")


def test_report_records_environment(library_report):
    env = library_report["environment"]
    assert env["device_count"] == len(jax.devices())
    assert env["jax_version"] == jax.__version__
    assert library_report["seed"] == 11
    assert [s["seed"] for s in library_report["settings"]] == [11, 12]
    assert library_report["run_time_s"] > 0
    row = library_report["checks"][0]
    assert set(row) >= {"statement", "check", "setting", "rule", "trials", "observed", "bound", "tolerance", "status"}


def test_lemma_4_1_passes_library():
    checks = lemma_4_1.checks(16, 0, (1,))
    assert len(checks) == 8
    assert all(c.status == "pass" for c in checks)


def test_lemma_4_1_catches_non_nested_sets():
    checks = lemma_4_1.checks(16, 0, (1,), set_membership=lambda scores, lam: scores >= lam)
    assert all(c.status == "fail" for c in checks)


def _lemma_4_2_failures(loss):
    checks = lemma_4_2.checks(16, 0, (1,), loss=loss)
    return {c.check for c in checks if c.status == "fail"}


def test_lemma_4_2_passes_library():
    assert _lemma_4_2_failures(misrouting_loss) == set()


def test_lemma_4_2_catches_left_continuous_loss():
    def left_continuous(cover, lam):
        return (jnp.asarray(lam)[..., None] <= cover).astype(cover.dtype)

    failures = _lemma_4_2_failures(left_continuous)
    assert "right-continuous in lambda" in failures
    # A cover score of exactly SCORE_UPPER_LIMIT (a model with router score 0) also breaks the last property.
    assert failures <= {"right-continuous in lambda", "zero at SCORE_UPPER_LIMIT"}


def test_lemma_4_2_catches_increasing_unbounded_loss():
    failures = _lemma_4_2_failures(lambda cover, lam: 2.0 * (1.0 - misrouting_loss(cover, lam)))
    assert failures == {"non-increasing in lambda", "bounded in [0, 1]", "zero at SCORE_UPPER_LIMIT"}


@pytest.mark.parametrize("law", [K7_LAW, dataclasses.replace(K1_LAW, score="gap", null="always", levels=(0.2, 0.6))])
def test_cover_law_matches_population_risk(law):
    population = build_population(law)
    cover = cover_law(population)
    assert cover.masses.sum() == pytest.approx(1.0, abs=1e-12)
    for lam in (-0.5, 0.0, 0.1, 0.3, 0.55, 0.9, 1.0):
        expected = float(population_risk(population.probabilities, population.scores, lam))
        # population_risk runs in float32: about 1e-7 relative error per query.
        assert float(cover.risk(lam)) == pytest.approx(expected, abs=1e-6)


def test_threshold_law_continuous_limit():
    # 10^5 equal atoms on (0, 1) approximate the uniform law, where R(lam-hat) ~ Beta(k+1, n-k).
    atoms = 100_000
    values = ((np.arange(atoms) + 0.5) / atoms).astype(np.float32)
    masses = np.full(atoms, 1.0 / atoms)
    survival = np.concatenate([np.cumsum(masses[::-1])[::-1], [0.0]])
    law = CoverLaw(values, masses, survival)
    n, k, alpha = 200, 12, 0.1
    result = threshold_law(law, n, k, alpha)
    assert result.expected_risk == pytest.approx((k + 1) / (n + 1), abs=2e-5)
    assert result.risk_sd == pytest.approx(stats.beta(k + 1, n - k).std(), rel=1e-3)
    assert result.violation_probability == pytest.approx(stats.binom.cdf(k, n, alpha), abs=1e-3)
    assert result.expected_atom == pytest.approx(1.0 / atoms)


def test_threshold_law_infeasible_is_zero_risk():
    law = cover_law(build_population(K1_LAW))
    assert threshold_law(law, 30, -1, 0.1).expected_risk == 0.0


def test_library_calibrator_matches_calibrate():
    key = jax.random.key(5)
    cover = jax.random.uniform(jax.random.key(6), (300,))
    for rule in ("hoeffding", "bentkus", "hb", "binomial", "crc"):
        count = LIBRARY.error_count(rule, 300, 0.1, 0.1)
        expected = calibrate(cover, 0.1, 0.1, rule)
        assert float(LIBRARY.threshold(cover, count)) == float(expected.lambda_hat)
    ordered = cover[jax.random.permutation(key, 300)]
    expected = calibrate(cover, 0.1, 0.1, "wsr", key=key)
    assert float(LIBRARY.wsr_threshold(ordered, 0.1, 0.1)) == float(expected.lambda_hat)


def _square_trial(index, offset):
    noise = jax.random.uniform(jax.random.fold_in(jax.random.key(0), index))
    return {"index": index, "value": index.astype(jnp.float32) ** 2 + offset + noise}


def test_map_trials_independent_of_batch_size():
    small = map_trials(_square_trial, 37, (jnp.float32(1.0),), batch_size=8)
    large = map_trials(_square_trial, 37, (jnp.float32(1.0),), batch_size=64)
    np.testing.assert_array_equal(small["index"], np.arange(37))
    np.testing.assert_array_equal(small["value"], large["value"])


def test_map_trials_spreads_over_devices():
    # Two host devices stand in for several accelerators; the flag must be set before JAX starts.
    script = textwrap.dedent(
        """
        import jax, jax.numpy as jnp, numpy as np
        from proofs_checks.devices import environment, map_trials
        assert environment()["device_count"] == 2, jax.devices()
        out = map_trials(lambda i: i * 2, 11, (), batch_size=3)
        assert out.tolist() == [2 * i for i in range(11)], out
        print("ok")
        """
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_cli_report_and_exit_status(tmp_path, monkeypatch, capsys):
    tiny = Profile("tiny", (dataclasses.replace(K7_SETTING, trials=400, rules=("binomial",)),), 0, (), 50)
    monkeypatch.setitem(PROFILES, "tiny", tiny)
    path = tmp_path / "report.json"
    assert cli.main(["--profile", "tiny", "--report", str(path)]) == 0
    report = json.loads(path.read_text())
    assert report["profile"] == "tiny"
    assert report["passed"]
    assert "0 failed" in capsys.readouterr().out
    assert cli.main(["--profile", "tiny", "--calibrator", "double-alpha"]) == 1


def test_run_setting_rejects_bad_rule():
    with pytest.raises(ValueError, match="invalid bound rule 'clopper'"):
        run_setting(dataclasses.replace(K1_SETTING, rules=("clopper",)), LIBRARY, 0)
    with pytest.raises(ValueError, match="rules is empty"):
        run_setting(dataclasses.replace(K1_SETTING, rules=()), LIBRARY, 0)
    with pytest.raises(ValueError, match="trials must be at least 1"):
        run_setting(dataclasses.replace(K1_SETTING, trials=0), LIBRARY, 0)


def test_cli_rejects_unknown_setting(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--profile", "ci", "--setting", "no-such-setting"])
    assert "no setting matches" in capsys.readouterr().err


def test_ci_profile_covers_requested_ranges():
    settings = PROFILES["ci"].settings
    assert {s.law.num_models for s in settings} == {1, 2, 7, 50}
    assert min(s.n for s in settings) == 10 and max(s.n for s in settings) == 10_000
    assert min(s.alpha for s in settings) == 0.01 and max(s.alpha for s in settings) == 0.3
    assert min(s.delta for s in settings) == 0.01 and max(s.delta for s in settings) == 0.2
    assert len({s.law.name for s in settings}) >= 8
    assert all(s.trials >= 10_000 for s in PROFILES["full"].settings)
