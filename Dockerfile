# The pipeline image for Kubeflow Pipelines / Vertex AI Pipelines (and Dataflow workers):
# the TFX 1.16 image plus this project, installed from the same lock file as a local .venv.
#
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/vt-tfx:TAG .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/vt-tfx:TAG
#   python pipeline_runner.py --runner=vertex --image REGION-docker.pkg.dev/PROJECT/REPO/vt-tfx:TAG \
#       --output-root gs://BUCKET/vt-tfx --data-dir gs://BUCKET/data/cifar-10-batches-py --submit
#
# Every step of a compiled spec (and a Vertex AI Training job) runs `python -m tfx...` in this
# image, its command replacing the ENTRYPOINT, so everything is installed with `python -m pip`
# into that interpreter. Dataflow workers (--beam=dataflow) start the ENTRYPOINT: Beam's SDK
# harness launcher, of the locked Beam version. tests/unit/test_runners.py checks this file
# against a compiled spec and requirements.lock.
FROM apache/beam_python3.10_sdk:2.61.0 AS beam

FROM gcr.io/tfx-oss-public/tfx:1.16.0

ENV TF_USE_LEGACY_KERAS=1 \
    TF_CPP_MIN_LOG_LEVEL=3

# requirements.lock is resolved for Python 3.10: fail here, not at the first pipeline step.
RUN python -c "import sys; assert sys.version_info[:2] == (3, 10), sys.version"

# Must match CloudConfig.container_root: compiled specs refer to schemas/ and data/ here.
WORKDIR /pipeline

# The exact pins (and hashes) of a local .venv; nothing is re-resolved. The image's TFX is the
# locked 1.16.0, so pip keeps it; other packages are replaced by their locked versions.
COPY requirements.lock ./
RUN python -m pip install --no-cache-dir --require-hashes -r requirements.lock

COPY pyproject.toml README.md pipeline_runner.py features.py ./
COPY pipeline/ pipeline/
COPY components/ components/
COPY models/ models/
COPY schemas/ schemas/
COPY data/ data/
# Editable: `components.trainer.module.run_fn` & co import from /pipeline whatever the
# working directory.
# No build isolation: setuptools is already installed from the lock (nothing unpinned fetched).
RUN python -m pip install --no-cache-dir --no-deps --no-build-isolation -e .

COPY --from=beam /opt/apache/beam /opt/apache/beam
ENTRYPOINT ["/opt/apache/beam/boot"]
