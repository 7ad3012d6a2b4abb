"""Images in an S3 bucket (issue 20, item 1), on moto's real S3 server: processes share no folder.

- the store puts PNGs in the bucket under the prefix, reads them back through a
  scratch copy, refuses names that are not its own, and deletes what expired;
- a cluster whose API process and worker each have only their own scratch folder
  serves every image from the bucket, and a temp job's image leaves the bucket when
  it expires.
"""
from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

import pytest
import requests
from PIL import Image

from t2i_contract.protocol.ownership import new_secret
from t2i_contract.reference_backend.distributed.objects import ObjectImageStore, parse_images_url
from t2i_contract.reference_backend.errors import ConfigError
from tests.reference_backend.support import KEY, decode_png, text2img_body
from tests.support import wait_for

from .cluster import cluster, finished, submit

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import TinyModel

    from .cluster import Cluster, ObjectServer


@pytest.mark.parametrize("url", ["s3://", "http://bucket/p", "s3://bucket/p?x=1", "/srv/images"],
                         ids=["no-bucket", "not-s3", "query", "a-folder"])
def test_an_images_url_that_is_not_a_bucket_is_refused_naming_the_flag(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_images_url(url)
    assert "--images must be s3://BUCKET/PREFIX" in refused.value.message and repr(url) in refused.value.message


def test_the_bucket_and_prefix_are_read_from_the_url() -> None:
    assert parse_images_url("s3://b/a/b/") == ("b", "a/b/") and parse_images_url("s3://b") == ("b", "")


def test_images_go_to_the_bucket_and_come_back_through_scratch(object_server: ObjectServer, tmp_path: Path) -> None:
    secret = new_secret()
    writer = ObjectImageStore("s3://t2i-images/run1", secret, tmp_path / "worker", client=object_server.client())
    reader = ObjectImageStore("s3://t2i-images/run1", secret, tmp_path / "api", client=object_server.client())
    names = writer.save(7, [Image.new("RGB", (8, 4), "red"), Image.new("RGB", (8, 4), "blue")])
    assert object_server.keys() == sorted(f"run1/{name}" for name in names)
    assert list((tmp_path / "worker").iterdir()) == [], "a worker writes to the bucket, not to its folder"
    path = reader.path(names[1])
    assert path is not None and path.parent == tmp_path / "api"
    assert Image.open(path).getpixel((0, 0)) == (0, 0, 255) and reader.job_of(names[1]) == (7, 1)
    assert Image.open(io.BytesIO(base64.b64decode(reader.base64(names[0])))).size == (8, 4)
    assert reader.path("../../etc/passwd") is None and reader.path(writer.name(8, 0)) is None
    assert writer.size(names) == sum(len(base64.b64decode(reader.base64(name))) for name in names) > 0
    assert writer.size(["../x.png", writer.name(9, 0)]) == 0
    writer.delete(names)
    reader.delete(names)
    assert object_server.keys() == [] and not path.exists()
    assert reader.path(names[0]) is None


def test_a_cluster_that_shares_no_folder_serves_its_images_from_the_bucket(tiny: TinyModel, tmp_path: Path) -> None:
    with cluster(tiny, tmp_path, object_store=True) as running:
        api = running.api(temp_ttl="1")
        running.worker("w1")
        kept, temp = (submit(api, text2img_body(samples=2))["id"], submit(api, text2img_body(temp=True))["id"])
        results = finished([api], [kept, temp], KEY)
        assert [results[i]["status"] for i in (kept, temp)] == ["success", "success"], results
        links = results[kept]["proxy_links"]
        assert len(links) == 2
        assert decode_png(requests.get(links[0], timeout=30).content).size == (256, 256)
        assert objects_named(running, links + results[temp]["proxy_links"])
        assert not running.data.exists(), "no process wrote a shared folder"
        assert not list((tmp_path / "w1-scratch").rglob("*.png")), "the worker kept no image of its own"
        # the temp image expires (temp_ttl 1 s, the cluster's policy): swept from the bucket by the worker
        temp_key = "generated/" + results[temp]["proxy_links"][0].rsplit("/", 1)[1]
        assert running.objects is not None
        wait_for(lambda: temp_key not in running.objects.keys(), timeout=120, interval=0.2)
        assert objects_named(running, links)


def objects_named(running: Cluster, links: list[str]) -> bool:
    assert running.objects is not None
    keys = running.objects.keys()
    return all("generated/" + link.rsplit("/", 1)[1] in keys for link in links)
