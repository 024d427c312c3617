"""NLTK corpora (CONTRACT §10, SCENARIOS §9), through the real ``bin/compile`` with nltk from the index.

NLTK's own data server is out of reach here, so ``local_nltk_index`` serves a tiny data index (an
``index.xml`` and two zipped corpora, ``city_database`` and ``stopwords``) on 127.0.0.1, and the builds
point the downloader at it with ``PYBUILDPACK_NLTK_INDEX_URL``.

The downloader refuses loopback and private addresses (its SSRF guard), as it would refuse a mirror on a
private network; behind an HTTP proxy it fetches only with ``NLTK_ALLOW_PROXIED_URLOPEN=1``. So the
index is published under a name that never resolves (``nltk-data.invalid``) and the local server acts
as the HTTP proxy that serves it, like a company proxy would: the build sees ``http_proxy`` (with
``no_proxy`` keeping pip's local index direct) as config vars or operator settings.
"""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import threading
import urllib.parse
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.etree import ElementTree

import pytest

from pybuildpack.steps.nltk import read_nltk_txt, unshare_hard_links
from support.buildpack import CompileResult

Compile = Callable[..., CompileResult]

STOPWORDS = ["a", "an", "the"]
READ_STOPWORDS = "from nltk.corpus import stopwords; print(stopwords.words('english'))"
CORPORA = {
    "city_database": {"city_database/README": "A tiny stand-in for the city database.\n"},
    "stopwords": {
        "stopwords/README": "A tiny stand-in for the stopwords corpus.\n",
        "stopwords/english": "".join(f"{word}\n" for word in STOPWORDS),
    },
}


INDEX_HOST = "http://nltk-data.invalid"


@dataclass(frozen=True)
class NltkIndex:
    url: str  # of index.xml, under INDEX_HOST
    proxy: str  # the local server, as an HTTP proxy
    root: Path

    def settings(self) -> dict[str, str]:
        """What a build needs to download from it: the index URL and the proxy."""
        return {
            "PYBUILDPACK_NLTK_INDEX_URL": self.url,
            "http_proxy": self.proxy,
            "no_proxy": "127.0.0.1,localhost",
            "NLTK_ALLOW_PROXIED_URLOPEN": "1",
        }


def _zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        directory = next(iter(files)).split("/", 1)[0] + "/"
        archive.writestr(directory, "")
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _package_element(
    package_id: str, files: dict[str, str], data: bytes, base_url: str
) -> ElementTree.Element:
    return ElementTree.Element(
        "package",
        {
            "id": package_id,
            "name": f"Test corpus {package_id}",
            "subdir": "corpora",
            "url": f"{base_url}/corpora/{package_id}.zip",
            "size": str(len(data)),
            "unzipped_size": str(sum(len(content) for content in files.values())),
            "checksum": hashlib.md5(data).hexdigest(),
            "sha256_checksum": hashlib.sha256(data).hexdigest(),
            "unzip": "1",
        },
    )


def write_nltk_index(root: Path, base_url: str) -> None:
    """The layout of NLTK's data server: ``index.xml`` + ``corpora/<id>.zip`` (one top directory each)."""
    (root / "corpora").mkdir(parents=True, exist_ok=True)
    top = ElementTree.Element("nltk_data")
    packages = ElementTree.SubElement(top, "packages")
    for package_id, files in CORPORA.items():
        data = _zip_bytes(files)
        (root / "corpora" / f"{package_id}.zip").write_bytes(data)
        packages.append(_package_element(package_id, files, data, base_url))
    ElementTree.SubElement(top, "collections")
    ElementTree.ElementTree(top).write(root / "index.xml", encoding="utf-8", xml_declaration=True)


class _ProxyHandler(SimpleHTTPRequestHandler):
    """Serves the directory; as a proxy it gets absolute URLs, whose path alone picks the file."""

    def translate_path(self, path: str) -> str:
        return super().translate_path(urllib.parse.urlsplit(path).path)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def local_nltk_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NltkIndex]:
    root = tmp_path_factory.mktemp("nltk-index")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_ProxyHandler, directory=str(root)))
    write_nltk_index(root, INDEX_HOST)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        proxy = f"http://127.0.0.1:{server.server_address[1]}"
        yield NltkIndex(url=f"{INDEX_HOST}/index.xml", proxy=proxy, root=root)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _assert_stopwords_readable(result: CompileResult) -> None:
    """The built app reads the downloaded corpus through NLTK_DATA (NLTK's own sandbox checks included)."""
    home = result.build_dir / ".heroku" / "python"
    probe = subprocess.run(
        [home / "bin" / "python", "-c", READ_STOPWORDS],
        env={"PATH": "/usr/bin:/bin", "NLTK_DATA": str(home / "nltk_data"), "HOME": str(result.build_dir)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert probe.stdout.strip() == repr(STOPWORDS)


# --- through bin/compile ---------------------------------------------------------------------------


def test_nltk_dependency_and_nltk_txt(compile_app: Compile, local_nltk_index: NltkIndex) -> None:
    # As config vars: the downloader sees them (CONTRACT §4).
    result = compile_app("nltk_dependency_and_nltk_txt", config=local_nltk_index.settings()).check()
    data_dir = result.build_dir / ".heroku" / "python" / "nltk_data"
    out = result.stdout
    assert "-----> Downloading NLTK corpora" in out
    assert "-----> Downloading NLTK packages: city_database stopwords\n" in out
    assert f"Using the NLTK data index {local_nltk_index.url}" in out
    # The downloader's own lines (wrapped by it, indented by us) name the real download dir, not /app.
    unwrapped = re.sub(r"\n {7}\[nltk_data\] {5}", "", out)
    downloading = f"       [nltk_data] Downloading package stopwords to {data_dir}..."
    assert downloading in unwrapped, result.describe()
    assert "       [nltk_data]   Unzipping corpora/stopwords.zip.\n" in out
    assert "RuntimeWarning" not in out
    assert out.index("Downloading NLTK packages") < out.index("Saving cache")
    assert (data_dir / "corpora" / "stopwords" / "english").read_text() == "a\nan\nthe\n"
    assert (data_dir / "corpora" / "city_database" / "README").is_file()

    report = result.report()
    assert report["nltk_downloader"] == "enabled"
    assert isinstance(report["nltk_downloader_duration"], float)

    # The corpora are usable by the app through NLTK_DATA.
    _assert_stopwords_readable(result)
    # The runtime environment points NLTK at them (CONTRACT §5).
    profile = (result.build_dir / ".profile.d" / "python.sh").read_text()
    assert "NLTK_DATA" in profile
    assert "/.heroku/python/nltk_data" in profile


def test_nltk_rebuild_with_cache(compile_app: Compile, local_nltk_index: NltkIndex) -> None:
    first = compile_app("nltk_dependency_and_nltk_txt", config=local_nltk_index.settings()).check()
    again = first.recompile().check()
    assert "-----> Downloading NLTK packages: city_database stopwords\n" in again.stdout
    assert again.report()["nltk_downloader"] == "enabled"
    _assert_stopwords_readable(again)
    _assert_stopwords_readable(first)  # saving the cache left the first build intact


def test_nltk_dependency_only(compile_app: Compile) -> None:
    result = compile_app("nltk_dependency_only").check()
    out = result.stdout
    assert "-----> Downloading NLTK corpora" in out
    assert "       'nltk.txt' not found, so no NLTK corpora are downloaded." in out
    assert "Downloading NLTK packages" not in out
    assert not (result.build_dir / ".heroku" / "python" / "nltk_data").exists()
    assert "NLTK_DATA" not in (result.build_dir / ".profile.d" / "python.sh").read_text()
    report = result.report()
    assert report["nltk_downloader"] == "skipped-no-nltk-file"


def test_nltk_txt_but_no_dependency(compile_app: Compile) -> None:
    result = compile_app("nltk_txt_but_no_dependency").check()
    for text in (result.stdout, result.stderr):
        assert "NLTK" not in text
        assert "nltk_data" not in text
    assert "nltk_downloader" not in result.report()
    assert not (result.build_dir / ".heroku" / "python" / "nltk_data").exists()


def test_nltk_txt_invalid(compile_app: Compile, local_nltk_index: NltkIndex) -> None:
    # As operator settings in the process env this time.
    result = compile_app("nltk_txt_invalid", extra_env=local_nltk_index.settings())
    assert result.returncode == 1, result.describe()
    out = result.stdout
    assert "-----> Downloading NLTK packages: invalid!\n" in out
    # The downloader's complaint and its retry prompt meeting end-of-file, indented.
    assert "       [nltk_data] Error loading invalid!" in out, result.describe()
    assert "EOFError" in out
    assert "Error: Unable to download NLTK data." in result.stderr
    assert "'invalid!'" in result.stderr
    assert "nltk.txt" in result.stderr
    assert "Saving cache" not in out
    report = result.report()
    assert report["failure_reason"] == "nltk-downloader"
    assert isinstance(report["nltk_downloader_duration"], float)
    assert "nltk_downloader" not in report


# --- nltk.txt parsing -------------------------------------------------------------------------------


def test_read_nltk_txt(tmp_path: Path) -> None:
    assert read_nltk_txt(tmp_path) is None
    nltk_txt = tmp_path / "nltk.txt"
    nltk_txt.write_bytes(
        b"\xef\xbb\xbfcity_database\r\n\n  stopwords  # a comment\n# whole-line comment\npunkt wordnet\n"
    )
    assert read_nltk_txt(tmp_path) == ["city_database", "stopwords", "punkt", "wordnet"]
    nltk_txt.write_text("\n  \n# nothing\n")
    assert read_nltk_txt(tmp_path) == []


def test_read_nltk_txt_invalid_encoding(tmp_path: Path) -> None:
    from pybuildpack.errors import BuildError

    (tmp_path / "nltk.txt").write_bytes(b"stop\xffwords\n")
    with pytest.raises(BuildError) as caught:
        read_nltk_txt(tmp_path)
    assert caught.value.failure_reason == "nltk-downloader"
    assert "nltk.txt" in caught.value.headline
    assert "offset 4" in caught.value.explanation


def test_unshare_hard_links(tmp_path: Path) -> None:
    data = tmp_path / "nltk_data" / "corpora" / "stopwords"
    data.mkdir(parents=True)
    cached = tmp_path / "cache-english"
    cached.write_text("a\n")
    (data / "english").hardlink_to(cached)
    (data / "README").write_text("private\n")
    (data / "link").symlink_to("README")
    assert unshare_hard_links(tmp_path / "nltk_data") == 1
    assert (data / "english").stat().st_nlink == 1
    assert (data / "english").read_text() == "a\n"
    assert cached.stat().st_nlink == 1
    assert (data / "link").is_symlink()
    assert sorted(p.name for p in data.iterdir()) == ["README", "english", "link"]
    assert unshare_hard_links(tmp_path / "missing") == 0
