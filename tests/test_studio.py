"""``mdtool studio`` in a real browser: Debian's headless Chromium driven by Selenium through
Debian's chromedriver (``/usr/bin/chromedriver``, so Selenium Manager never downloads anything),
against the real service started by the real command, a real song, a real library copy.

Skipped, with the reason, only where chromium, chromium-driver or selenium is missing
(``make test`` installs all three)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SONG = REPO / "examples" / "demo_song.mp3"
STATIC = REPO / "unity_bridge" / "mdruntime" / "studio_static"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = REPO / "build" / "studio"
#: A guard against a hung page, never an assertion: every wait ends on a page condition.
HANG_S = 180


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return "chromium not installed (apt-get install chromium)"
    if not CHROMEDRIVER.exists():
        return "chromium-driver not installed (apt-get install chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed (pip install -e '.[dev]')"
    return None


needs_browser = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def _env() -> dict:
    env = dict(os.environ)
    paths = [str(REPO / p) for p in ("sdk", "tools", "unity_bridge")]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    return env


def mdtool(*args: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "mdtool.cli", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# -- the vendored three.js ---------------------------------------------------------------------


def test_vendored_threejs_is_the_npm_release_byte_for_byte():
    vendor = STATIC / "vendor" / "three"
    manifest = json.loads((vendor / "VENDORED.json").read_text())
    lock = json.loads((REPO / "package-lock.json").read_text())
    assert manifest["version"] == lock["packages"]["node_modules/three"]["version"]
    assert "MIT License" in (vendor / "LICENSE").read_text()
    for name, sha in manifest["files"].items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == sha, name
    npm = REPO / "node_modules" / "three"
    if not npm.is_dir():
        pytest.skip("node_modules/three not installed (npm ci): checked against VENDORED.json only")
    assert json.loads((npm / "package.json").read_text())["version"] == manifest["version"]
    for name in manifest["files"]:
        assert (vendor / name).read_bytes() == (npm / name).read_bytes(), name


def test_the_vendored_files_are_committed():
    """No ignore rule (``build/``) keeps a vendored file out of the repository."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    manifest = json.loads((STATIC / "vendor" / "three" / "VENDORED.json").read_text())
    done = subprocess.run(["git", "ls-files", str(STATIC)], cwd=REPO, capture_output=True,
                          text=True, check=True)  # fmt: skip
    tracked = {Path(line).relative_to(STATIC.relative_to(REPO)).as_posix()
               for line in done.stdout.splitlines()}  # fmt: skip
    assert {f"vendor/three/{name}" for name in manifest["files"]} <= tracked


def test_the_page_imports_only_what_ships():
    """Every module the page imports is in the package: no CDN, no bare specifier left over."""
    import re

    page = (STATIC / "index.html").read_text()
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    for module in ("studio.js", "player.js", "strip.js", "retarget.js"):
        text = (STATIC / module).read_text()
        for spec in re.findall(r'from "([^"]+)"', text):
            if spec.startswith("./"):
                assert (STATIC / spec).is_file(), spec
            else:
                assert spec in ("three", "three/addons/loaders/GLTFLoader.js",
                                "three/addons/controls/OrbitControls.js"), spec  # fmt: skip


# -- the studio in Chromium --------------------------------------------------------------------


@pytest.fixture(scope="module")
def dance(tmp_path_factory):
    """A choreographed song in two identical folders (the studio edits one, ``mdtool edit`` the
    other) and a copy of the starter library (the studio approves and rejects in it)."""
    root = tmp_path_factory.mktemp("studio")
    studio_dir, cli_dir = root / "studio", root / "cli"
    library = root / "library"
    shutil.copytree(REPO / "phrase_library", library)
    mdtool("choreograph", str(SONG), "-o", str(studio_dir), "--library", str(library),
           "--seed", "3", cwd=root)  # fmt: skip
    shutil.copytree(studio_dir, cli_dir)
    return {"root": root, "studio": studio_dir / "demo_song.timeline.json",
            "cli": cli_dir / "demo_song.timeline.json", "library": library}  # fmt: skip


@pytest.fixture(scope="module")
def studio_url(dance):
    """``mdtool studio TIMELINE`` on a free port; its printed URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mdtool.cli", "studio", str(dance["studio"]),
         "--library", str(dance["library"]), "--port", "0"],
        cwd=dance["root"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = process.stdout.readline()
    if not line.startswith("mdtool studio: http://127.0.0.1:"):
        process.kill()
        pytest.fail(f"no URL from mdtool studio: {line!r} {process.stderr.read()[-3000:]}")
    yield line.split(": ", 1)[1].strip()
    process.terminate()
    process.wait()


@pytest.fixture(scope="module")
def browser(studio_url, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--window-size=1280,720",
                 "--autoplay-policy=no-user-gesture-required", "--use-angle=swiftshader",
                 "--enable-unsafe-swiftshader", "--mute-audio",
                 f"--user-data-dir={tmp_path_factory.mktemp('profile')}"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_script_timeout(HANG_S)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False})
    driver.get(studio_url)
    wait_for(driver, "return document.body.dataset.ready === '1'")
    yield driver
    driver.quit()


def test_bad_input_is_one_clear_line(tmp_path):
    """A missing file, or a timeline whose song is gone: one line, exit 1, no traceback."""
    done = subprocess.run([sys.executable, "-m", "mdtool.cli", "studio", str(tmp_path / "no.json")],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 1 and "no such file" in done.stderr
    assert "Traceback" not in done.stderr
    mdtool("choreograph", str(SONG), "-o", str(tmp_path), "--library",
           str(REPO / "phrase_library"), "--format", "json", cwd=tmp_path)  # fmt: skip
    timeline = tmp_path / "demo_song.timeline.json"
    data = json.loads(timeline.read_text())
    data["song"]["path"] = str(tmp_path / "gone.mp3")
    timeline.write_text(json.dumps(data))
    done = subprocess.run([sys.executable, "-m", "mdtool.cli", "studio", str(timeline),
                           "--library", str(REPO / "phrase_library")],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 1 and "gone.mp3 is not there" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2
    (tmp_path / "flat.glb").write_bytes(b"glTF not really")  # not a character: one line
    done = subprocess.run([sys.executable, "-m", "mdtool.cli", "studio", "--character",
                           str(tmp_path / "flat.glb")],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 1 and "flat.glb" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2


def wait_for(driver, script: str, *args):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, HANG_S, poll_frequency=0.05).until(
        lambda d: d.execute_script(script, *args)
    )


def clock(driver) -> tuple[float, float, int]:
    data = driver.execute_script("return {...document.getElementById('clock').dataset}")
    return float(data["audioS"]), float(data["animS"]), int(data["frame"])


def readout(driver) -> tuple[float, tuple[float, ...]]:
    """The audio time and the drawn hips position (m) the page wrote in the same frame."""
    data = driver.execute_script("return {...document.getElementById('clock').dataset}")
    return float(data["audioS"]), tuple(float(v) for v in data["hipsM"].split(","))


def service_hips_m(url: str, timeline: dict, times_s: list[float]):
    """The root (hips) positions the service's pose sampler gives at ``times_s``."""
    import urllib.request

    import numpy as np

    base = url.split("/studio/")[0]
    request = urllib.request.Request(
        f"{base}/v1/pose", data=json.dumps({"timeline": timeline, "times_s": times_s}).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request) as answer:
        return np.asarray(json.loads(answer.read())["root_positions_m"])


def severe(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@needs_browser
def test_the_page_loads_without_console_errors_and_shows_the_figures(browser, dance):
    assert severe(browser) == []
    timeline = json.loads(dance["studio"].read_text())
    shown = browser.execute_script(
        "return [window.studio.timeline.slots.map(c => c.phrase_id),"
        " document.querySelectorAll('#slots > div').length, window.studio.song.duration_s]"
    )
    assert shown[0] == [c["phrase_id"] for c in timeline["slots"]]
    assert shown[1] == len(timeline["slots"]) and shown[2] == pytest.approx(79.42, abs=0.01)
    assert "124" in browser.find_element("id", "fig-tempo").text
    wait_for(browser, "return window.studio.evaluation !== null")
    figures = browser.execute_script("return window.studio.evaluation")
    assert figures["beat_align_score"] > figures["beat_align_score_control"]
    shown_bas = browser.find_element("id", "fig-bas").text
    assert shown_bas.startswith(f"{figures['beat_align_score']:.3f}")
    assert browser.execute_script("return [window.innerWidth, window.innerHeight]") == [1280, 720]


@needs_browser
def test_the_animation_follows_the_audio_clock_within_one_frame(browser, studio_url):
    """10 s of playback, then paused, then 2 s at 1.5x (arrow up twice): every readout the page
    wrote has the dance within one frame of the audio, and the dance moves."""
    import numpy as np
    from selenium.webdriver.common.keys import Keys

    fps = browser.execute_script("return window.studio.timeline.fps")
    browser.execute_script("document.getElementById('seek').blur()")
    browser.find_element("tag name", "body").send_keys(" ")  # space: play
    wait_for(browser, "return document.getElementById('play').ariaLabel === 'pause'")
    start = clock(browser)[0]
    samples, hips = [], set()
    while not samples or samples[-1][0] < start + 10.0:
        samples.append(clock(browser))
        hips.add(tuple(round(v, 3) for v in browser.execute_script(
            "return window.studioPlayer ? window.studioPlayer.hipsWorld() : [0,0,0]")))
    browser.find_element("tag name", "body").send_keys(" ")  # pause
    wait_for(browser, "return document.getElementById('play').ariaLabel === 'play'")
    audio_s = [s[0] for s in samples]
    assert min(np.diff(audio_s)) >= -1e-3  # the audio clock runs forward
    assert max(abs(a - b) for a, b, _ in samples) <= 1.0 / fps
    # the frame shown is the dance time's (the readout rounds the time to 0.1 ms)
    assert all(abs(frame - b * fps) <= 0.5 + 1e-2 for _, b, frame in samples)
    assert len({frame for *_, frame in samples}) > 30  # it was drawn, frame after frame
    assert len(hips) > 10  # and the character moved
    paused = clock(browser)
    assert abs(paused[0] - paused[1]) <= 1.0 / fps
    # the pose drawn is the dance at the audio time: the hips where the service's sampler puts
    # them, to within how far they move in one frame
    timeline = browser.execute_script("return window.studio.timeline")
    audio_s, hips = readout(browser)
    near = service_hips_m(studio_url, timeline, [audio_s - 1 / fps, audio_s, audio_s + 1 / fps])
    step_m = max(np.linalg.norm(near[0] - near[1]), np.linalg.norm(near[2] - near[1]))
    assert np.linalg.norm(np.asarray(hips) - near[1]) <= step_m + 1e-3
    body = browser.find_element("tag name", "body")
    body.send_keys(Keys.ARROW_UP + Keys.ARROW_UP + " ")
    wait_for(browser, "return document.getElementById('play').ariaLabel === 'pause'")
    assert browser.execute_script("return window.studioPlayer.audio.playbackRate") == 1.5
    faster = []
    while not faster or faster[-1][0] < paused[0] + 2.0:
        faster.append(clock(browser))
    body.send_keys(" ")
    assert max(abs(a - b) for a, b, _ in faster) <= 1.0 / fps
    assert severe(browser) == []


@needs_browser
def test_the_agreement_panel_shows_the_endpoint_where_the_service_has_it(browser):
    """With GET /v1/edits/agreement in the service's schema the panel shows its figures (read
    after the page loads and after every replace); without it, the labelled place says so."""
    has = browser.execute_script(
        "return fetch('/openapi.json').then(r => r.json())"
        ".then(s => '/v1/edits/agreement' in s.paths)"
    )
    if has:
        wait_for(browser, "return window.studio.agreement !== null")
        found = browser.execute_script("return window.studio.agreement")
        text = browser.find_element("id", "agreement").text
        assert f"{found['edits']} ({found['scored']} scored)" in text
    else:
        assert "not served by this service" in browser.find_element("id", "agreement").text
    assert severe(browser) == []


@needs_browser
def test_clicking_a_slot_lists_the_alternatives_of_mdtool_edit(browser, dance):
    slot = 3
    browser.find_element("css selector", f'#slots > div[data-slot="{slot}"]').click()
    wait_for(browser, "return window.studio.alternatives && window.studio.alternatives.slot === "
             "arguments[0] && document.querySelectorAll('#alternatives li').length > 0", slot)
    shown = browser.execute_script(
        "return [...document.querySelectorAll('#alternatives li')].map(li => li.dataset.phrase)"
    )
    served = browser.execute_script("return window.studio.alternatives.alternatives")
    expected = json.loads(mdtool("edit", str(dance["cli"]), "--alternatives", "--slot",
                                 str(slot), "--json", cwd=dance["root"]))  # fmt: skip
    assert shown == [row["phrase_id"] for row in expected["alternatives"]]
    for got, want in zip(served, expected["alternatives"], strict=True):
        assert got["score"] == pytest.approx(want["score"], rel=1e-9)
        assert got["current"] == want["current"]
    wait_for(browser, "return document.querySelectorAll('#alternatives .preview svg').length"
             " === arguments[0]", len(shown))  # every phrase has its preview


@needs_browser
def test_replacing_a_slot_saves_what_mdtool_edit_replace_writes(browser, dance):
    slot = 3
    original = json.loads(dance["studio"].read_text())
    pick = browser.execute_script(
        "return window.studio.alternatives.alternatives.filter(r => !r.current)[1].phrase_id"
    )
    browser.find_element("css selector", f'#alternatives li[data-phrase="{pick}"] .replace').click()
    wait_for(browser, "return window.studio.timeline.slots[arguments[0]].phrase_id === "
             "arguments[1] && window.studio.busy === 0", slot, pick)
    browser.find_element("id", "undo").click()  # undo, redo: the edit comes back
    wait_for(browser, "return window.studio.timeline.slots[arguments[0]].phrase_id === "
             "arguments[1] && window.studio.busy === 0", slot, original["slots"][slot]["phrase_id"])
    browser.find_element("id", "redo").click()
    wait_for(browser, "return window.studio.timeline.slots[arguments[0]].phrase_id === "
             "arguments[1] && window.studio.busy === 0", slot, pick)
    browser.find_element("id", "save").click()
    wait_for(browser, "return window.studio.saved !== null")
    mdtool("edit", str(dance["cli"]), "--replace", f"{slot}={pick}", cwd=dance["root"])
    saved, expected = dance["studio"].read_text(), dance["cli"].read_text()
    assert json.loads(saved) == json.loads(expected) and saved == expected
    assert json.loads(saved)["slots"][slot]["phrase_id"] == pick
    assert json.loads(saved) != original
    bvh = dance["studio"].with_name("demo_song.bvh").read_text().split("MOTION")[0]
    assert bvh == dance["cli"].with_name("demo_song.bvh").read_text().split("MOTION")[0]
    assert severe(browser) == []


@needs_browser
def test_the_library_page_approves_rejects_and_tags_in_the_sqlite(browser, dance):
    db = dance["library"] / "library.sqlite"

    def row(phrase_id: str) -> tuple:
        with sqlite3.connect(db) as connection:
            status = connection.execute("SELECT status FROM phrases WHERE id = ?",
                                        (phrase_id,)).fetchone()[0]  # fmt: skip
            tags = {t for (t,) in connection.execute(
                "SELECT tag FROM tags WHERE phrase_id = ?", (phrase_id,))}  # fmt: skip
        return status, tags

    browser.find_element("id", "tab-library").click()
    wait_for(browser, "return document.querySelectorAll('#phrases tbody tr').length > 100")
    first = browser.execute_script("return window.studio.library[7].id")
    assert row(first)[0] == "approved"
    browser.find_element("css selector", f'#phrases tr[data-phrase="{first}"]').click()
    wait_for(browser, "return document.querySelectorAll('#findings li').length > 0")
    browser.find_element("id", "phrase-reject").click()
    wait_for(browser, "return window.studio.library.some(p => p.id === arguments[0] && "
             "p.status === 'rejected')", first)  # fmt: skip
    assert row(first)[0] == "rejected"
    browser.find_element("id", "phrase-approve").click()
    wait_for(browser, "return window.studio.library.some(p => p.id === arguments[0] && "
             "p.status === 'approved')", first)  # fmt: skip
    assert row(first)[0] == "approved"
    browser.find_element("id", "phrase-tag").send_keys("studio-test")
    browser.find_element("id", "phrase-tag-add").click()
    wait_for(browser, "return window.studio.library.some(p => p.id === arguments[0] && "
             "p.tags.includes('studio-test'))", first)  # fmt: skip
    assert "studio-test" in row(first)[1]
    # filtering by the new tag lists exactly that phrase
    browser.find_element("css selector", "#filters input[name=tag]").send_keys("studio-test")
    browser.find_element("css selector", "#filters button[type=submit]").click()
    wait_for(browser, "return window.studio.library.length === 1")
    browser.find_element("id", "phrase-play").click()
    wait_for(browser, "return window.studioPlayer.phraseClock !== null && window.studio.busy === 0")
    assert severe(browser) == []


@needs_browser
def test_a_screenshot_is_written_and_is_not_blank(browser):
    from PIL import Image

    browser.find_element("id", "tab-dance").click()
    wait_for(browser, "return window.studioPlayer.phraseClock === null && window.studio.busy === 0")
    browser.execute_script("document.getElementById('seek').blur()")
    browser.find_element("tag name", "body").send_keys("k")  # J/K: next slot, seeks there
    wait_for(browser, "return window.studio.alternatives !== null && window.studio.busy === 0")
    png = browser.get_screenshot_as_png()
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (1280, 720)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200  # a drawn page, not one flat colour
    viewport = browser.find_element("id", "viewport").rect
    box = tuple(int(v) for v in (viewport["x"], viewport["y"], viewport["x"] + viewport["width"],
                                 viewport["y"] + viewport["height"]))  # fmt: skip
    figure = image.crop(box).getcolors(maxcolors=1 << 20)
    assert figure is not None and len(figure) > 50  # the character and the grid are drawn
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "studio.png").write_bytes(png)
    assert severe(browser) == []


def test_every_studio_file_is_package_data():
    """pyproject's package-data patterns cover every file of the page (a wheel and
    ``pip install -e .`` ship them; checked once by building a wheel, here by the patterns)."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib")

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["mdruntime"]  # fmt: skip
    root = STATIC.parent
    files = [p.relative_to(root).as_posix() for p in STATIC.rglob("*") if p.is_file()]
    assert len(files) >= 12
    def covered(name: str) -> bool:
        return any(fnmatch.fnmatch(name, p) and name.count("/") == p.count("/") for p in patterns)

    uncovered = [f for f in files if not covered(f)]
    assert uncovered == []


@needs_browser
def test_choreograph_again_with_a_style_and_seed_gives_mdtool_choreographs_dance(browser, dance):
    from selenium.webdriver.support.ui import Select

    browser.find_element("id", "tab-dance").click()
    Select(browser.find_element("id", "style")).select_by_value("hiphop")
    seed = browser.find_element("id", "seed")
    seed.clear()
    seed.send_keys("7")
    browser.find_element("id", "rechoreograph").click()
    wait_for(browser, "return window.studio.timeline.seed === 7 && window.studio.busy === 0")
    shown = browser.execute_script("return window.studio.timeline")
    out = dance["root"] / "again"
    mdtool("choreograph", str(SONG), "-o", str(out), "--library", str(dance["library"]),
           "--style", "hiphop", "--seed", "7", "--format", "json", cwd=dance["root"])  # fmt: skip
    expected = json.loads((out / "demo_song.timeline.json").read_text())
    assert [s["phrase_id"] for s in shown["slots"]] == [s["phrase_id"] for s in expected["slots"]]
    assert shown["style"] == "hiphop"
    assert browser.find_element("id", "undo").is_enabled()  # the previous dance is one undo away
    assert severe(browser) == []


@needs_browser
def test_a_dropped_audio_file_is_choreographed_through_the_upload_path(browser):
    """The drop handler's work (a File from the page's own audio bytes, as a drop hands it over):
    the service choreographs the upload and the page plays the file from memory."""
    browser.execute_async_script(
        "const done = arguments[0];"
        "fetch('/v1/studio/audio').then(r => r.blob())"
        ".then(b => window.studio.openDropped(new File([b], 'dropped.mp3', {type: 'audio/mpeg'})))"
        ".then(() => done(true), e => done(String(e)))"
    )
    wait_for(browser, "return window.studio.busy === 0")
    found = browser.execute_script(
        "return [window.studio.timeline.song.path, window.studio.timeline.slots.length,"
        " window.studio.analysis, document.getElementById('song-name').textContent,"
        " document.querySelectorAll('#sections > div').length]"
    )
    assert found[0] == "dropped.mp3" and found[1] > 5 and found[2] is None
    assert found[3] == "dropped.mp3" and found[4] > 0  # sections from the slots' labels
    assert severe(browser) == []


@needs_browser
def test_a_users_gltf_character_follows_the_dance(browser, tmp_path):
    """A character that is not the mannequin (Mixamo names, longer legs, shorter arms, an A-pose
    rest, a random rest rotation on every joint: ``studio_character.py``) chosen in the page:
    its bones are matched by name and, at 24 times through the song, every limb points where
    the mannequin's does, the hips stand at the mannequin's height times the legs' ratio, the
    hands rise and fall with the mannequin's and the feet reach the floor."""
    import numpy as np
    from studio_character import LEG_SCALE, make_character

    character = tmp_path / "mixamo_character.glb"
    make_character(character)
    browser.find_element("id", "tab-dance").click()
    browser.execute_script("window.studio.character = null; window.studioPlayer.audio.pause()")
    browser.find_element("id", "character-file").send_keys(str(character))
    wait_for(browser, "return window.studio.character !== null && window.studio.busy === 0")
    assert browser.execute_script("return window.studio.character.bones") == 22
    assert browser.execute_script("return window.studioPlayer.model.visible") is False
    duration_s = browser.execute_script("return window.studio.song.duration_s")
    poses = []
    for t in np.linspace(2.0, duration_s - 2.0, 24):
        browser.execute_script("window.studioPlayer.audio.currentTime = arguments[0]", float(t))
        wait_for(browser, "return Math.abs(Number(document.getElementById('clock').dataset.audioS)"
                 " - arguments[0]) < 1e-3", float(t))  # fmt: skip
        poses.append(browser.execute_script("return window.studioPlayer.bonesWorld()"))

    def at(pose, name):
        return np.asarray(pose[name])

    limbs = [(side + a, side + b) for side in ("Left", "Right") for a, b in
             (("UpperArm", "LowerArm"), ("LowerArm", "Hand"), ("UpperLeg", "LowerLeg"),
              ("LowerLeg", "Foot"))] + [("Spine", "Chest"), ("Neck", "Head")]  # fmt: skip
    worst_deg = 0.0
    for pose in poses:
        for a, b in limbs:
            u = at(pose["mannequin"], b) - at(pose["mannequin"], a)
            v = at(pose["character"], b) - at(pose["character"], a)
            cosine = u @ v / np.linalg.norm(u) / np.linalg.norm(v)
            worst_deg = max(worst_deg, float(np.degrees(np.arccos(np.clip(cosine, -1, 1)))))
    assert worst_deg < 3.0, worst_deg
    hips = np.array([[at(p["mannequin"], "Hips")[1], at(p["character"], "Hips")[1]] for p in poses])
    assert np.allclose(hips[:, 1], LEG_SCALE * hips[:, 0], atol=2e-3)
    hands = np.array([[at(p[who], side + "Hand")[1] for who in ("mannequin", "character")]
                      for p in poses for side in ("Left", "Right")])  # fmt: skip
    assert np.ptp(hands[:, 0]) > 0.2 and np.corrcoef(hands.T)[0, 1] > 0.9
    feet = np.array([[min(at(p[who], side + part)[1] for side in ("Left", "Right")
                          for part in ("Foot", "Toes")) for who in ("mannequin", "character")]
                     for p in poses])  # fmt: skip
    assert feet[:, 1].min() < 0.1 and abs(feet[:, 1].min() - LEG_SCALE * feet[:, 0].min()) < 0.03
    browser.find_element("id", "mannequin").click()
    assert browser.execute_script("return window.studioPlayer.model.visible") is True
    assert severe(browser) == []


@needs_browser
def test_with_a_token_the_page_sends_it_and_the_service_wants_it(browser, dance):
    """``--token``: the printed address carries it in the fragment; the page loads with it and
    the service refuses the same request without it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mdtool.cli", "studio", str(dance["cli"]),
         "--library", str(dance["library"]), "--port", "0", "--token", "s3cret"],
        cwd=dance["root"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        assert line.strip().endswith("/studio/#token=s3cret"), line
        browser.get("about:blank")
        browser.get_log("browser")  # what the earlier pages logged
        browser.get(line.split(": ", 1)[1].strip())
        wait_for(browser, "return document.body.dataset.ready === '1'")
        assert browser.execute_script("return window.studio.timeline.slots.length") > 5
        assert severe(browser) == []
        status = browser.execute_script(
            "return fetch('/v1/studio/session').then(r => r.status)"
        )
        assert status == 401
    finally:
        process.terminate()
        process.wait()


def test_studio_on_a_song_choreographs_it_and_saves_where_asked(tmp_path):
    """``mdtool studio SONG --output DIR --character FILE``: the song is choreographed at start
    (as ``mdtool choreograph`` would), its dance is ready as a .glb, the character's bones are
    matched by name (and a file that is not one is refused in one line), and a save writes the
    three files."""
    import urllib.error
    import urllib.request

    from studio_character import make_character

    make_character(tmp_path / "hero.glb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mdtool.cli", "studio", str(SONG), "--library",
         str(REPO / "phrase_library"), "--port", "0", "--seed", "2",
         "--output", str(tmp_path / "o"), "--character", str(tmp_path / "hero.glb")],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        assert line.startswith("mdtool studio: http://127.0.0.1:"), process.stderr.read()
        base = line.split(": ", 1)[1].strip().removesuffix("/studio/")

        def get(path: str) -> bytes:
            with urllib.request.urlopen(base + path) as answer:
                return answer.read()

        session = json.loads(get("/v1/studio/session"))
        assert session["song"]["name"] == "demo_song.mp3" and session["timeline"]["seed"] == 2
        assert session["analysis"]["tempo_bpm"] == pytest.approx(124.0, abs=0.5)
        assert get("/v1/studio/dance.glb")[:4] == b"glTF"
        assert get("/v1/studio/audio") == SONG.read_bytes()
        assert b"<title>mdtool studio</title>" in get("/studio/")
        character = session["character"]
        assert character["name"] == "hero.glb" and character["convention"] == "mixamo"
        assert character["names"]["LeftUpperArm"] == "mixamorig:LeftArm"
        assert len(character["joints"]) == 22  # every canonical joint; not the extra bones
        assert get(character["url"]) == (tmp_path / "hero.glb").read_bytes()
        bad = urllib.request.Request(base + "/v1/studio/character", data=b"glTF not really")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad)
        assert refused.value.code == 422
        assert "character file" in json.loads(refused.value.read())["error"]["message"]
        request = urllib.request.Request(
            base + "/v1/studio/save", data=json.dumps({"timeline": session["timeline"]}).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request) as answer:
            outputs = json.loads(answer.read())["outputs"]
    finally:
        process.terminate()
        process.wait()
    assert sorted(Path(p).name for p in outputs.values()) == [
        "demo_song.bvh", "demo_song.glb", "demo_song.timeline.json"]  # fmt: skip
    mdtool("choreograph", str(SONG), "-o", str(tmp_path / "cli"), "--seed", "2",
           "--library", str(REPO / "phrase_library"), "--format", "json", cwd=tmp_path)  # fmt: skip
    saved = json.loads((tmp_path / "o" / "demo_song.timeline.json").read_text())
    expected = json.loads((tmp_path / "cli" / "demo_song.timeline.json").read_text())
    assert saved == expected
