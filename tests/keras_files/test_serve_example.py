"""examples/serve_keras_model.py serves a Keras-written .keras file's predictions, equal to
the ones Keras recorded, through its function handler, its HTTP server and its command line."""

import importlib.util
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("h5py")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(ROOT, "examples", "serve_keras_model.py")
PREDICTIONS = np.load(os.path.join(HERE, "predictions.npz"))


def example():
    spec = importlib.util.spec_from_file_location("serve_keras_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_function_handler_answers_with_keras_predictions():
    serve = example()
    path = os.path.join(HERE, "functional.keras")
    answer = serve.handler({"instances": PREDICTIONS["functional/x"].tolist()}, path=path)
    np.testing.assert_allclose(answer["predictions"], PREDICTIONS["functional/y"],
                               rtol=1e-5, atol=1e-6)
    assert "error" in serve.handler({"instances": [[1.0, 2.0]]}, path=path)
    assert "KeyError" in serve.handler({}, path=path)["error"]


def test_http_server_answers_with_keras_predictions():
    serve = example()
    server = serve.make_server(os.path.join(HERE, "dense_bn.keras"), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        body = json.dumps({"instances": PREDICTIONS["dense_bn/x"].tolist()}).encode()
        request = urllib.request.Request(f"{url}/predict", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        np.testing.assert_allclose(answer["predictions"], PREDICTIONS["dense_bn/y"],
                                   rtol=1e-5, atol=1e-6)
        with urllib.request.urlopen(f"{url}/health", timeout=30) as response:
            assert json.loads(response.read())["status"] == "ok"
        bad = urllib.request.Request(f"{url}/predict", data=b"{not json", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=30)
        assert refused.value.code == 400
    finally:
        server.shutdown()
        server.server_close()


def test_command_line_answers_once():
    x = PREDICTIONS["embedding/x"]       # integer token ids
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, SCRIPT, os.path.join(HERE, "embedding.keras"),
                             "--once", json.dumps({"instances": x.tolist()})],
                            capture_output=True, text=True, timeout=120, env=env, check=True)
    np.testing.assert_allclose(json.loads(result.stdout)["predictions"],
                               PREDICTIONS["embedding/y"], rtol=1e-5, atol=1e-6)
