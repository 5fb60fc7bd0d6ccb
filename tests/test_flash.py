"""The pre-conversion flash estimate against the exact .tflite size."""

from __future__ import annotations

from cost_models.flash import estimate_flash_bytes
from cost_models.keras_graph import graph_from_keras


def test_flash_estimate_within_2_percent(converted):
    worst = 0.0
    for model, tflite in converted:
        err = abs(estimate_flash_bytes(graph_from_keras(model)) - len(tflite)) / len(tflite)
        worst = max(worst, err)
    assert worst <= 0.02, f"worst relative error {worst:.2%}"


def test_flash_estimate_per_format_within_2_percent():
    """int16x8 and float32 files (converted from sampled models of both spaces, seeds not used by the fit):
    within 2 %, or 64 B for a model of a few KB (a 2 KB float MLP is 60 B off)."""
    import numpy as np

    from nas.quantize import to_float_tflite, to_int8_tflite
    from tests.helpers import randomize_weights, sample_models

    worst = {}
    for space in ("spectral", "mlp"):
        for i, (model, _) in enumerate(sample_models(6, seed=77, space=space)):
            randomize_weights(model, i)
            rep = np.random.default_rng(i).normal(size=(16, *model.inputs[0].shape[1:])).astype(np.float32)
            for fmt, tflite in (("int16x8", to_int8_tflite(model, rep, activations="int16")),
                                ("float32", to_float_tflite(model))):
                off = abs(estimate_flash_bytes(graph_from_keras(model, fmt)) - len(tflite))
                worst[fmt] = max(worst.get(fmt, 0.0), off / max(len(tflite), 64 / 0.02))
    assert set(worst) == {"int16x8", "float32"} and max(worst.values()) <= 0.02, worst


def test_names_are_stripped_and_outputs_stay_bit_identical(monkeypatch):
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as schema

    import nas.quantize as q
    from tests.helpers import randomize_weights, sample_models

    for i, (model, _) in enumerate(sample_models(3, seed=11)):
        randomize_weights(model, i)
        rep = np.random.default_rng(i).normal(size=(16, *model.inputs[0].shape[1:])).astype(np.float32)
        shipped = q.to_int8_tflite(model, rep)
        with monkeypatch.context() as m:
            m.setattr(q, "strip_names", lambda flatbuffer: flatbuffer)
            named = q.to_int8_tflite(model, rep)
        graph = schema.Model.GetRootAs(shipped, 0).Subgraphs(0)
        assert not any(graph.Tensors(j).Name() for j in range(graph.TensorsLength()))
        assert len(shipped) < len(named)
        assert (q.Int8Model(shipped).predict_raw(rep) == q.Int8Model(named).predict_raw(rep)).all()
