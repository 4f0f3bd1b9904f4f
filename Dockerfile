# The pipeline image for Kubeflow Pipelines / Vertex AI Pipelines (and Dataflow workers):
# the TFX 1.16 image plus this project, installed from the same lock file as a local .venv.
#
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/vt-tfx:TAG .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/vt-tfx:TAG
#   python pipeline_runner.py --runner=vertex --image REGION-docker.pkg.dev/PROJECT/REPO/vt-tfx:TAG \
#       --output-root gs://BUCKET/vt-tfx --data-dir gs://BUCKET/data/cifar-10-batches-py --submit
FROM gcr.io/tfx-oss-public/tfx:1.16.0

ENV TF_USE_LEGACY_KERAS=1 \
    TF_CPP_MIN_LOG_LEVEL=3 \
    PYTHONWARNINGS=ignore::FutureWarning,ignore::DeprecationWarning

# Must match CloudConfig.container_root: compiled specs refer to schemas/ and data/ here.
WORKDIR /pipeline

COPY requirements.lock ./
RUN python -m pip install --no-cache-dir --require-hashes -r requirements.lock

COPY pyproject.toml README.md pipeline_runner.py ./
COPY pipeline/ pipeline/
COPY components/ components/
COPY models/ models/
COPY schemas/ schemas/
COPY data/ data/
RUN python -m pip install --no-cache-dir --no-deps -e .
