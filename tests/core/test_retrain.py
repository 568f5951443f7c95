"""Retraining: dataset from accepted images, replace-if-better on the same images, rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.assist.retrain import (
    SETTING_OPTIONS,
    SETTING_TRAIN_CONFIG,
    Decision,
    RetrainError,
    TrainOptions,
    decide,
    evaluate_command,
    mark_run_started,
    new_run,
    newly_accepted,
    prepare_dataset,
    read_report,
    register_model,
    rollback,
    should_retrain,
    store_train_config,
    train_command,
    validation_split,
)
from core.dataset import read_manifest
from core.errors import SkinTraceError
from core.project import Project
from tests.core.test_prelabel import SHAPE, make_project


def _accept(project: Project, ids) -> None:
    from core.demo.synthetic import make_face

    for image_id in ids:
        face = make_face(20 + image_id - 1, shape=SHAPE)
        project.save_rough(image_id, face.rough)
        project.set_status(image_id, "submitted")
        project.set_status(image_id, "accepted")


@pytest.fixture
def project(tmp_path):
    p = make_project(tmp_path, count=8)
    yield p
    p.close()


def _report(results, split="val", images=3):
    return {"dataset": "d", "split": split, "images": images, "results": results}


def _result(source, w, p):
    return {"method": "m", "source": str(source), "iou": {"wrinkle": w, "pore": p}}


def test_decide_replaces_only_if_strictly_better(tmp_path):
    cand, cur = tmp_path / "new", tmp_path / "old"
    better = decide(
        _report([_result(cand, 0.5, 0.3), _result(cur, 0.4, 0.3)]), candidate=cand, current=cur
    )
    assert better.replace and better.candidate_score == pytest.approx(0.4)
    assert better.current_score == pytest.approx(0.35)
    equal = decide(
        _report([_result(cur, 0.4, 0.3), _result(cand, 0.3, 0.4)]), candidate=cand, current=cur
    )
    assert not equal.replace and "not better" in equal.reason
    worse = decide(
        _report([_result(cand, 0.1, 0.1), _result(cur, 0.2, 0.2)]), candidate=cand, current=cur
    )
    assert not worse.replace
    first = decide(_report([_result(cand, 0.0, 0.0)]), candidate=cand, current=None)
    assert first.replace and first.current_iou is None


def _thin_result(source, iou, f1):
    scores = {c: {"global": {"iou": iou, "f1@2": f1, "cldice": f1}} for c in ("wrinkle", "pore")}
    return {
        "source": str(source),
        "method": "m",
        "iou": dict.fromkeys(scores, iou),
        "scores": scores,
    }


def test_decide_can_compare_a_thin_structure_score(tmp_path):
    cand, cur = tmp_path / "new", tmp_path / "old"
    # The candidate is worse by IoU but better within 2 px: the option decides.
    report = _report([_thin_result(cand, 0.30, 0.90), _thin_result(cur, 0.35, 0.80)])
    by_iou = decide(report, candidate=cand, current=cur)
    by_f1 = decide(report, candidate=cand, current=cur, metric="f1@2")
    assert not by_iou.replace and by_f1.replace
    assert by_f1.metric == "f1@2" and "F1@2px 0.9000 > 0.8000" in by_f1.reason
    assert by_f1.candidate_value == pytest.approx(0.9) and by_f1.current_value == 0.8
    assert by_f1.candidate_iou == {"wrinkle": 0.30, "pore": 0.30}  # IoU is still recorded
    with pytest.raises(RetrainError, match="unknown decision metric 'dice'; choose one of iou"):
        decide(report, candidate=cand, current=cur, metric="dice")
    old_report = _report([_result(cand, 0.5, 0.5), _result(cur, 0.4, 0.4)])
    with pytest.raises(RetrainError, match="no clDice .* evaluate again"):
        decide(old_report, candidate=cand, current=cur, metric="cldice")
    with pytest.raises(RetrainError, match="decision metric"):
        TrainOptions.from_settings({"decision_metric": "accuracy"})
    assert TrainOptions.from_settings({"decision_metric": "cldice"}).decision_metric == "cldice"


def test_decide_refuses_broken_reports(tmp_path):
    cand, cur = tmp_path / "new", tmp_path / "old"
    with pytest.raises(RetrainError, match="no result"):
        decide(_report([_result(cand, 0.5, 0.5)]), candidate=cand, current=cur)
    with pytest.raises(RetrainError, match="results"):
        decide({"split": "val"}, candidate=cand, current=None)
    with pytest.raises(RetrainError, match="same checkpoint"):
        decide(_report([_result(cand, 0.5, 0.5)]), candidate=cand, current=cand)
    with pytest.raises(RetrainError, match="did not write"):
        read_report(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(SkinTraceError):
        read_report(tmp_path / "bad.json")


def test_prepare_dataset_exports_only_accepted_images_with_stable_split(project):
    ids = [r.id for r in project.images()]
    run0 = new_run(project)
    with pytest.raises(RetrainError, match="at least 2 accepted"):
        list(prepare_dataset(project, run0))
    _accept(project, ids[:4])
    project.save_rough(ids[5], {"wrinkle": project.load_rough(ids[5])["wrinkle"]})
    run1 = new_run(project)
    # run0 failed and no model uses it: the next run removes it (a leftover), so the
    # models folder holds only run1 (which may reuse run0's name within one second).
    assert run1.root.parent == project.root / "models" and run1.root.is_dir()
    assert list((project.root / "models").glob("run-*")) == [run1.root]
    last = list(prepare_dataset(project, run1))[-1]
    manifest = read_manifest(run1.dataset)
    assert last.info["items"] == 4 == len(manifest.items)
    first_split = {i.content_hash: i.split for i in manifest.items}
    _accept(project, ids[4:8])
    run2 = new_run(project)
    list(prepare_dataset(project, run2))
    later = {i.content_hash: i.split for i in read_manifest(run2.dataset).items}
    assert len(later) == 8
    # the same images keep their split, so earlier validation images stay validation images
    assert all(later[h] == s for h, s in first_split.items())
    assert validation_split(run2.dataset) in ("val", "all")


def test_train_command_runs_the_core_entry_point_with_the_project_config(project):
    from core.model.train_config import TrainConfig, read_job

    run = new_run(project)
    store_train_config(project, model="reduced-unet", width=4, epochs=2)
    opts = TrainOptions.from_project(project)
    argv = train_command(run, opts, python="py")
    assert argv == ["py", "-m", "core.model.run", str(run.job)]  # no app command line
    job = read_job(run.job)
    assert (job.dataset, job.out, job.resume) == (run.dataset, run.train_out, False)
    assert job.config == TrainConfig(model="reduced-unet", width=4, epochs=2)
    assert job.config.device == "auto"  # GPU when there is one


def test_retraining_trains_in_the_core_entry_point_process(project):
    # The argv retraining launches, run for real: one tiny epoch, progress lines parsed
    # as the Training dock parses them, and a candidate checkpoint the registry accepts.
    import os
    import subprocess

    from core.model.run import parse_event
    from core.schemas import check_checkpoint_folder

    _accept(project, [r.id for r in project.images()][:4])
    run = new_run(project)
    list(prepare_dataset(project, run))
    store_train_config(
        project, width=4, zero_pad=8, epochs=1, batch_size=2, device="cpu", threads=1
    )
    argv = train_command(run, TrainOptions.from_project(project))
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(argv, cwd=run.root, env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    events = [parse_event(line) for line in done.stdout.splitlines()]
    assert [e and e["event"] for e in events] == ["start", "epoch", "done"]
    assert events[0] and events[0]["width"] == 4 and events[0]["epochs"] == 1
    check_checkpoint_folder(run.candidate)


def test_project_stores_a_partial_config_merged_with_the_defaults(project):
    from core.model.train_config import TrainConfig

    assert TrainOptions.from_project(project).config == TrainConfig()
    assert store_train_config(project, epochs=7, width=4) == {"epochs": 7, "width": 4}
    assert project.get_setting(SETTING_TRAIN_CONFIG) == {"epochs": 7, "width": 4}
    # back to the default: the key leaves the stored partial
    assert store_train_config(project, epochs=TrainConfig().epochs) == {"width": 4}
    assert TrainOptions.from_project(project).config == TrainConfig(width=4)
    with pytest.raises(SkinTraceError, match="epochs"):
        store_train_config(project, epochs=0)
    assert project.get_setting(SETTING_TRAIN_CONFIG) == {"width": 4}  # nothing stored
    # training options an older version kept in retrain.options still apply, and move
    project.set_setting(SETTING_OPTIONS, {"epochs": 50, "decision_metric": "cldice"})
    opts = TrainOptions.from_project(project)
    assert opts.config == TrainConfig(width=4, epochs=50) and opts.decision_metric == "cldice"
    store_train_config(project, patience=3)
    assert project.get_setting(SETTING_TRAIN_CONFIG) == {"width": 4, "epochs": 50, "patience": 3}
    assert project.get_setting(SETTING_OPTIONS) == {"decision_metric": "cldice"}


def test_bad_stored_options_are_refused_with_one_line():
    from core.schemas import RetrainOptions

    assert set(RetrainOptions.model_fields) == {"beat_baselines", "decision_metric"}
    for options, config, field in (
        ("not options", None, "'retrain.options': document"),
        (None, "not a config", "'train_config': must be a JSON object"),
        (None, {"width": 2**40}, "'train_config': width"),
        (None, {"epochs": "30"}, "'train_config': epochs"),
        (None, {"model": "resnet"}, "'train_config': model: unknown model"),
        (None, {"batch_size": True}, "'train_config': batch_size"),
        (None, {"optimizer": "sgd"}, "unknown training option 'optimizer'"),
        ({"epochs": 0}, None, "'train_config': epochs"),  # a legacy key, checked as well
    ):
        with pytest.raises(RetrainError, match=field) as exc:
            TrainOptions.from_settings(options, config)
        assert "\n" not in str(exc.value)


def _checkpoint(path: Path, bias: float) -> Path:
    torch = pytest.importorskip("torch")
    from core.model import create_model, save_checkpoint

    torch.manual_seed(0)
    net = create_model("reduced-unet", width=4).eval()
    with torch.no_grad():  # outputs straddle the mask levels (bias -1) or stay off (-100)
        net.outc.conv.weight.mul_(50.0)
        net.outc.conv.bias.fill_(bias)
    levels = {"wrinkle": 40.0, "pore": 90.0}
    return save_checkpoint(
        path, net, name="reduced-unet", config={"width": 4}, metadata={"mask_levels": levels}
    )


def test_real_evaluation_on_the_same_images_decides_and_history_rolls_back(project, tmp_path):
    pytest.importorskip("torch")
    from core.model.evaluate import evaluate

    ids = [r.id for r in project.images()]
    _accept(project, ids[:6])
    run = new_run(project)
    list(prepare_dataset(project, run))
    split = validation_split(run.dataset)
    good = _checkpoint(run.root / "good", -1.0)
    bad = _checkpoint(run.root / "bad", -100.0)
    report = evaluate(run.dataset, checkpoints=[good, bad], split=split, device="cpu")
    data = report.to_dict()
    assert data["results"][0]["iou"]["wrinkle"] > 0 == data["results"][1]["iou"]["wrinkle"]

    # first model: always current
    first = register_model(project, bad, decide(data, candidate=bad, current=None))
    assert project.current_model().id == first
    # better model on the same images replaces it
    d_good = decide(data, candidate=good, current=bad)
    assert d_good.replace and d_good.images == report.images and d_good.split == split
    second = register_model(project, good, d_good, train_info={"epochs": 2, "skip": [1]})
    assert project.current_model().id == second
    # a worse candidate is kept in the history but does not become current
    d_bad = decide(data, candidate=bad, current=good)
    assert not d_bad.replace
    third = register_model(project, bad, d_bad)
    assert project.current_model().id == second
    history = {m.id: m.metrics for m in project.models()}
    assert list(history) == [first, second, third]
    assert history[second]["replaced"] is True and history[third]["replaced"] is False
    assert history[second]["compared_with"] == first and history[second]["epochs"] == 2
    assert "skip" not in history[second]
    assert history[second]["iou_mean"] > history[first]["iou_mean"]
    assert history[third]["val_images"] == report.images

    # rollback: to the model current before, then to the baselines
    assert rollback(project).id == first
    assert rollback(project) is None and project.current_model() is None
    with pytest.raises(RetrainError, match="no current model"):
        rollback(project)
    assert rollback(project, third).id == third
    with pytest.raises(RetrainError, match="no model with id"):
        rollback(project, 999)
    argv = evaluate_command(run, project.current_model().path, TrainOptions(), python="py")
    assert argv.count("--checkpoint") == 2 and argv[argv.index("--split") + 1] == split
    assert argv[:3] == ["py", "-m", "core.model.eval_run"]  # core's entry point, not the app
    assert "--baselines" not in argv
    # no current model: the first one is scored against the baselines, unless turned off
    assert "--baselines" in evaluate_command(run, None, TrainOptions(), python="py")
    lenient = TrainOptions(beat_baselines=False)
    assert "--baselines" not in evaluate_command(run, None, lenient, python="py")


def test_retrain_trigger_after_n_newly_accepted(project):
    ids = [r.id for r in project.images()]
    project.set_setting("retrain.after_accepted", 3)
    _accept(project, ids[:2])
    assert newly_accepted(project) == 2 and not should_retrain(project)
    _accept(project, ids[2:3])
    assert should_retrain(project)
    mark_run_started(project)
    assert newly_accepted(project) == 0 and not should_retrain(project)
    _accept(project, ids[3:6])
    assert should_retrain(project)
    project.set_setting("retrain.after_accepted", 0)  # only on demand
    assert not should_retrain(project)


def test_decision_value_is_frozen():
    d = Decision(True, {"wrinkle": 1.0, "pore": 0.0}, None, "val", 1, "x")
    with pytest.raises(AttributeError):
        d.replace = False  # type: ignore[misc]


def test_first_model_must_beat_the_baselines_when_they_were_scored(tmp_path):
    cand = tmp_path / "new"
    base = {"method": "image processing", "source": "core.gt.baselines"}
    weak = decide(
        _report([_result(cand, 0.1, 0.1), {**base, "iou": {"wrinkle": 0.3, "pore": 0.2}}]),
        candidate=cand,
        current=None,
    )
    assert not weak.replace and "baselines" in weak.reason
    assert weak.current_score == pytest.approx(0.25)
    strong = decide(
        _report([_result(cand, 0.4, 0.3), {**base, "iou": {"wrinkle": 0.3, "pore": 0.2}}]),
        candidate=cand,
        current=None,
    )
    assert strong.replace and "baselines" in strong.reason
