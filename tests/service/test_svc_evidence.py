"""The answer uses all the evidence a report carries: the explained traceback of a chain, and the shapes the
client saw fed to fit."""

from svc_helpers import post_report

NDIM = 'ValueError: Input 0 of layer "conv2d" is incompatible with the layer: expected min_ndim=4, found ndim=3. Full shape received: (28, 28, 1)'


def test_it_answers_with_the_explained_traceback_when_a_wrapper_ends_the_run(client, ingest_token):
    chained = (
        'Traceback (most recent call last):\n  File "train.py", line 9, in <module>\n    model.fit(ds)\n'
        + NDIM
        + "\n\nDuring handling of the above exception, another exception occurred:\n\n"
        + 'Traceback (most recent call last):\n  File "run.py", line 3, in <module>\n    main()\n'
        + "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: train.py FAILED\n"
    )
    answer = post_report(client, ingest_token, {"traceback": chained}).get_json()
    assert answer["diagnoses"] and answer["diagnoses"][0]["layer"] == "conv2d"


def test_the_shapes_fed_to_fit_decide_between_causes(client, ingest_token):
    unbatched = {
        "fit": {
            "x": {
                "kind": "tf.data.Dataset",
                "element": [{"shape": [28, 28, 1], "dtype": "float32"}, {"shape": [], "dtype": "int64"}],
            }
        }
    }
    answer = post_report(client, ingest_token, {"traceback": NDIM, "inputs": unbatched}).get_json()
    assert answer["diagnoses"][0]["cause"] == "input_pipeline"
    assert any("never batched" in e["text"] for e in answer["diagnoses"][0]["evidence"])
