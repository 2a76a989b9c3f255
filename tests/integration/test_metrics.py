"""Every service's metrics after real traffic: events posted to the API, judged by the worker
(its text pipeline in a child process), counted by the strikes worker and stored by the sink in
the API's process. Each endpoint is scraped as Prometheus would, and the figures the traffic
made are there and not zero."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from infra.settings import Settings
from tests.support.events import post_event
from tests.support.polling import wait_for
from tests.support.stack import Worker

Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        value
        for have, value in samples.get(name, [])
        if all(have.get(k) == v for k, v in labels.items())
    )


def lags(samples: Samples, group: str) -> set[str]:
    """The partitions of which `group`'s lag is measured."""
    return {
        f"{labels['topic']}[{labels['partition']}]"
        for labels, _ in samples.get("modstream_consumer_lag", [])
        if labels["group"] == group
    }


def scrape(url: str) -> Samples:
    """The endpoint's samples; none while the service is still starting (not listening yet)."""
    try:
        return parse(httpx.get(url, timeout=5).text)
    except httpx.ConnectError:
        return {}


@pytest.fixture
def strikes_worker(
    settings: Settings, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    log = tmp_path_factory.mktemp("strikes") / "strikes.log"
    running = Worker(settings, model_dir, log, command="strikes").start()
    yield running
    running.stop()


async def produce_garbage(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait("events.text", b"{not json", key=b"demo:metrics")
    finally:
        await producer.stop()


def test_every_service_counts_real_traffic(
    api: TestClient, worker: Worker, strikes_worker: Worker, settings: Settings
) -> None:
    run = uuid.uuid4().hex[:8]
    texts = ["thanks, that helped a lot", "you are an idiot and a moron", "see you tomorrow"]
    events = [
        post_event(f"metrics-{run}-{i}", text, author=f"m-{run}", lang="en")
        for i, text in enumerate(texts)
    ]
    assert api.post("/v1/events", json=events).status_code == 202
    asyncio.run(produce_garbage(settings.kafka_bootstrap or ""))

    def stored() -> bool:
        return all(api.get(f"/v1/verdicts/{e['event_id']}").status_code == 200 for e in events)

    wait_for(stored, timeout=120, what="the verdicts in the warehouse")

    # The worker: events in and out, verdicts by decision and label, dead letters by reason,
    # batch sizes, the fast tier's latency and the escalations, lag per partition.
    def worker_counted() -> Samples | None:
        samples = scrape(worker.metrics_url)
        # A dead letter is counted when found, and sent in its batch's delivery.
        dead = total(samples, "modstream_dead_letters_total", reason="invalid_json")
        sent = total(samples, "modstream_events_out_total", topic="events.deadletter")
        return samples if dead and sent and lags(samples, "modstream-worker") else None

    samples = wait_for(worker_counted, timeout=60, what="the worker's metrics")
    assert total(samples, "modstream_events_in_total", topic="events.text") >= 4
    assert total(samples, "modstream_events_out_total", topic="verdicts.text") >= 3
    assert total(samples, "modstream_verdicts_total", kind="text") >= 3
    assert total(samples, "modstream_verdict_labels_total", kind="text") >= 1
    assert total(samples, "modstream_batch_size_count", stage="text") >= 1
    assert total(samples, "modstream_model_seconds_count", tier="fast") >= 1
    assert total(samples, "modstream_texts_scored_total") >= 3
    assert "modstream_texts_escalated_total" in samples  # this model has no transformer tier
    assert {f"events.text[{p}]" for p in range(4)} <= lags(samples, "modstream-worker")

    # The strikes worker: the verdicts it read, its lag.
    def strikes_counted() -> Samples | None:
        samples = scrape(strikes_worker.metrics_url)
        read = total(samples, "modstream_events_in_total", topic="verdicts.text") >= 3
        return samples if read and lags(samples, "modstream-strikes") else None

    wait_for(strikes_counted, timeout=90, what="the strikes worker's metrics")

    # The API and its sink: publishes, stored rows, flush latency, lag, requests by route.
    def api_counted() -> Samples | None:
        samples = parse(api.get("/metrics").text)
        return samples if lags(samples, "modstream-sink") else None

    api_samples = wait_for(api_counted, timeout=30, what="the API's metrics")
    assert total(api_samples, "modstream_events_out_total", topic="events.text") >= 3
    assert total(api_samples, "modstream_events_in_total", topic="verdicts.text") >= 3
    assert total(api_samples, "modstream_sink_rows_total", table="verdicts") >= 3
    assert total(api_samples, "modstream_sink_flush_seconds_count") >= 1
    assert "modstream_sink_retries_total" in api_samples
    requests = {
        labels["route"]
        for labels, value in api_samples["modstream_http_request_seconds_count"]
        if value
    }
    assert {"/v1/events", "/v1/verdicts/{event_id}"} <= requests
    assert not any(run in route for route in requests)  # templates, never raw paths
