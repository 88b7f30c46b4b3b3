# Image for the driftline worker and the example trainer, with the MLflow client (see docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY detectors ./detectors
COPY agents ./agents
COPY driftline ./driftline
COPY examples ./examples
RUN pip install --no-cache-dir ".[parquet,mlflow]"
USER nobody
ENTRYPOINT ["driftline"]
CMD ["worker"]
