"""The results page: what it embeds (checked against the saved arrays), its size,
and the page itself in a real headless Chromium (hover, click, facets, screenshot)."""
import base64
import io
import json
import os
import re
import shutil
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import edujax as ej
from edujax.report import figures as figures_of
from edujax.app import registry
from edujax.report import maps
from edujax.report import page
from edujax.core.outcomes import COLORS, OUTCOMES


def unpack(blob: str, dtype) -> np.ndarray:
    return np.frombuffer(zlib.decompress(base64.b64decode(blob)), dtype)


def parabola(name, grid, steps=60, boundaries=()):
    """Heavy ball on ½·c·x² from x0 + spread·N(0, 1): stable iff lr·c < 2(1 + β).

    β is 1 − omm, or 0.9 where the `optimizer` choice is "heavy ball"."""

    def start(key, h):
        return h["x0"] + h["spread"] * jax.random.normal(key, ())

    def optimizer(h):
        return optax.sgd(h["learning_rate"], momentum=jnp.where(h["optimizer"] == 1, 0.9, 1 - h["omm"]))

    return ej.minimize(
        name=name, loss=lambda x, h: 0.5 * h["curvature"] * x**2, params=start, optimizer=optimizer,
        grid=grid, steps=steps, global_min=0.0, boundaries=boundaries,
        defaults={"curvature": 1.0, "x0": 3.0, "spread": 0.0, "optimizer": 0, "omm": 1.0},
    )


def stability(h):
    return 2 * (2 - np.asarray(h["omm"])) / np.asarray(h["curvature"])


@pytest.fixture(scope="module")
def big(quadratic):
    """A full-size grid: 256 × 256 runs (short ones)."""
    result = ej.sweep(quadratic, steps=50)
    assert result.outcome.shape == (256, 256)
    return result


@pytest.fixture(scope="module")
def results(tmp_path_factory, big):
    """Saved sweeps covering every layout: seeds aggregated with a choice axis, a 1-D grid,
    a faceted third axis with a fourth axis (points) aggregated, and a 256 × 256 grid."""
    mixed = parabola("mixed", ej.Grid(ej.logspace("learning_rate", 1e-2, 10.0, 8),
                                      ej.choice("optimizer", ["sgd", "heavy ball"]), ej.seeds(3)))
    mixed = ej.Experiment(**{**mixed.__dict__, "defaults": {**mixed.defaults, "spread": 1.0}})
    oned = parabola("oned", ej.Grid(ej.linspace("learning_rate", 0.02, 2.5, 12)),
                    boundaries=(ej.Boundary("lr = 2 / c", "learning_rate", stability),))
    faceted = parabola("faceted", ej.Grid(
        ej.logspace("learning_rate", 1e-2, 3.0, 7), ej.logspace("omm", 1.0, 1e-2, 5, label="1 − β"),
        ej.values("curvature", [1.0, 4.0, 10.0]), ej.points("start", [[3.0], [-1.0]], ["x0"])),
        boundaries=(ej.Boundary("lr = 2(1 + β) / c", "learning_rate", stability),))
    out = tmp_path_factory.mktemp("results")
    swept = {}
    for experiment in (mixed, oned, faceted):
        result = ej.sweep(experiment)
        (out / experiment.name).mkdir()
        figures = figures_of.render(result, out / experiment.name) if experiment is oned else {}
        result.save(out / experiment.name, figures)
        swept[experiment.name] = result
    big.save(out / "quadratic")
    swept["quadratic"] = big
    steeper = ej.sweep(ej.Experiment(**{**oned.__dict__, "defaults": {**oned.defaults, "curvature": 4.0}}))
    ej.write(ej.compare(out / "oned", steeper, names=("c = 1", "c = 4")), out / "oned_steeper")
    return out, swept, page.write(out, registry.STORY)


def payload(path):
    text = path.read_text()
    data = re.search(r'<script type="application/json" id="edujax-data">(.*?)</script>', text, re.S).group(1)
    return json.loads(data.replace("<\\/", "</"))


def test_the_page_embeds_every_experiment_exactly(results):
    out, swept, path = results
    experiments = {e["name"]: e for e in payload(path)["experiments"]}
    assert list(experiments) == ["quadratic", "faceted", "mixed", "oned"]  # the story's first, then the others by name
    for name, result in swept.items():
        if name == "quadratic":
            continue  # too big to keep every curve: see test_a_256_by_256_grid_makes_a_small_page
        data = experiments[name]
        drawn, faceted, aggregated = maps.layout(result)
        assert (data["drawn"], data["faceted"], data["aggregated"]) == (drawn, faceted, aggregated)
        majority = maps.majority(result.outcome, tuple(aggregated))
        np.testing.assert_array_equal(unpack(data["majority"], np.uint8), majority.ravel())
        if aggregated:
            np.testing.assert_array_equal(unpack(data["outcome"], np.uint8), result.outcome.ravel())
        # Small grids keep every run's curve; each decodes to its loss gap within half a quantisation level.
        assert [len(s) for s in data["curves"]["sampled"]] == list(result.outcome.shape)
        codes = unpack(data["curves"]["codes"], np.uint8).reshape(result.outcome.size, -1)
        ranges = unpack(data["curves"]["ranges"], "<i2").reshape(2, -1).T
        decoded = page.decode_curves(codes, ranges)
        truth = maps.loss_gap(result.loss.reshape(result.outcome.size, -1), result.info["global_min"])
        np.testing.assert_array_equal(np.isnan(decoded), ~np.isfinite(truth))
        finite = np.isfinite(truth)
        tolerance = (ranges[:, 1:] - ranges[:, :1]) / 100 / (2 * page.LEVELS) + 1e-9
        assert np.all(np.abs(np.log10(decoded) - np.log10(truth))[finite]
                      <= np.broadcast_to(tolerance, truth.shape)[finite])
        assert data["curves"]["steps"] == result.record_steps.tolist()
        # the measure's median over the aggregated axes, to a hundredth
        median = np.median(result.measure, axis=tuple(aggregated)) if aggregated else result.measure
        stored = unpack(data["measure"]["values"], "<i2").reshape(median.shape) / 100
        np.testing.assert_allclose(stored, median, atol=0.005 + 1e-6)
    assert (~np.isfinite(swept["mixed"].loss)).any(), "the test grid must include blown-up runs"


def test_experiments_follow_the_story_and_their_docstrings_are_markdown(tmp_path, results):
    assert page.order(["gan_ring", "zebra", "house_prices", "quadratic", "alpha"], registry.STORY) == [
        "quadratic", "house_prices", "gan_ring", "alpha", "zebra"]
    assert page.order(["b", "a", "c"], story=("c",)) == ["c", "a", "b"]
    out, swept, path = results
    text = path.read_text()
    assert [m for m in re.findall(r'<section id="(?:exp|cmp)-([^"]+)"', text)] == [
        "quadratic", "faceted", "mixed", "oned", "oned_steeper"]
    assert re.search(r"<pre><code>f\(x, y\) = ", page.MARKDOWN.render(
        "Title.\n\nThe loss:\n\n    f(x, y) = x² + y²\n\n"
        "- lr < 2: `converged`\n- *else* diverged <script>")) is not None
    rendered = page.MARKDOWN.render("- lr < 2: `converged`\n- *else* diverged <script>x</script>")
    assert ("<ul>" in rendered and "<li>lr &lt; 2: <code>converged</code></li>" in rendered
            and "<em>else</em>" in rendered)
    assert "<script>" not in rendered  # raw HTML in a docstring is shown as text, never run


def test_a_comparison_on_the_page_counts_every_change(results):
    out, swept, path = results
    text = path.read_text()
    section = text[text.index('<section id="cmp-oned_steeper"'):]
    section = section[:section.index("</section>")]
    data = json.loads((out / "oned_steeper" / "comparison.json").read_text())
    for change in data["changes"]:
        assert f"<td>{change['from']}</td><td>{change['to']}</td><td>{change['runs']:,}</td>" in section
    assert 'src="oned_steeper/compare.png"' in section


def test_boundaries_follow_the_panels(results):
    out, swept, path = results
    experiments = {e["name"]: e for e in payload(path)["experiments"]}
    (line,) = experiments["oned"]["boundaries"]
    assert line["values"] == [2.0]  # lr = 2 / c with c = 1: one vertical line
    (curve,) = experiments["faceted"]["boundaries"]
    omm = swept["faceted"].axes[1].values
    for facet, c in enumerate([1.0, 4.0, 10.0]):  # one curve per curvature, along 1 − β
        np.testing.assert_allclose(curve["values"][facet], 2 * (2 - omm) / c, rtol=1e-6)


def test_curve_subgrid_respects_the_budget_and_keeps_the_ends():
    sampled = page.curve_subgrid((256, 256, 4))
    sizes = [len(s) for s in sampled]
    assert np.prod(sizes) <= page.CURVE_CELLS and sizes[2] == 4 and min(sizes[:2]) >= 30
    for s, n in zip(sampled, (256, 256, 4)):
        assert s[0] == 0 and s[-1] == n - 1 and np.all(np.diff(s) > 0)
    assert [len(s) for s in page.curve_subgrid((10, 3))] == [10, 3]


def test_a_256_by_256_grid_makes_a_small_page(results):
    out, swept, path = results
    big = swept["quadratic"]
    data = next(e for e in payload(path)["experiments"] if e["name"] == "quadratic")
    np.testing.assert_array_equal(unpack(data["majority"], np.uint8), big.outcome.ravel())
    sampled = data["curves"]["sampled"]
    assert np.prod([len(s) for s in sampled]) <= page.CURVE_CELLS
    codes = unpack(data["curves"]["codes"], np.uint8).reshape(-1, big.loss.shape[-1])
    decoded = page.decode_curves(codes, unpack(data["curves"]["ranges"], "<i2").reshape(2, -1).T)
    truth = maps.loss_gap(big.loss[np.ix_(*sampled)].reshape(len(codes), -1), 0.0)
    np.testing.assert_allclose(np.log10(decoded), np.log10(truth), atol=0.1)  # the stored runs are the right ones
    size = len(json.dumps(data))
    assert size < 500_000, f"{size:,} bytes of data for one 65,536-run experiment"
    assert path.stat().st_size < 1_000_000


# --- the page in a real browser ---------------------------------------------------------------

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium():
    candidates = [os.environ.get("EDUJAX_CHROMIUM")] + [
        shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    found = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    if found is None:
        pytest.skip("no Chromium found (Debian: apt-get install chromium, which `make test` does as root; "
                    "or set EDUJAX_CHROMIUM): the browser test of results/index.html did not run")
    return found


@pytest.fixture(scope="module")
def browser():
    executable = find_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser test needs the test dependencies: pip install -e '.[test]' (playwright)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def loaded(browser, results):
    """The page opened from file://, every experiment rendered; console errors collected."""
    out, swept, path = results
    tab = browser.new_page(viewport={"width": 1100, "height": 900})
    errors = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    tab.goto(path.as_uri())
    tab.wait_for_function("document.body.dataset.ready", timeout=20_000)
    yield tab, swept, errors
    tab.close()


def hover(tab, name, i, j=0):
    tab.locator(f"#exp-{name} .heatmap").scroll_into_view_if_needed()
    at = tab.evaluate(f"edujaxPage.then(maps => maps[{name!r}].cellCenter({i}, {j}))")
    # Chromium drops the mouse's fractional pixel: on a 256-cell map (≈ 1.4 px a cell) move to the whole pixel
    # nearest the centre, which stays inside the cell.
    at = {"x": round(at["x"]), "y": round(at["y"])}
    tab.mouse.move(at["x"], at["y"])
    return at


def tip(tab, name):
    return tab.locator(f"#exp-{name} .tip").inner_text()


def test_every_experiment_renders_without_console_errors(loaded):
    tab, swept, errors = loaded
    assert tab.evaluate("document.body.dataset.ready") == "yes"
    for name in swept:
        assert tab.locator(f"#exp-{name} .heatmap canvas").count() == 1
        legend = tab.locator(f"#exp-{name} .legend").inner_text()
        for code in np.unique(maps.majority(swept[name].outcome, tuple(maps.layout(swept[name])[2]))):
            assert OUTCOMES[code] in legend
    assert tab.locator("#exp-oned .legend").inner_text().count("lr = 2 / c") == 1
    assert errors == []


def test_hover_shows_the_setting_and_click_shows_its_curves(loaded):
    tab, swept, errors = loaded
    result = swept["mixed"]
    codes = result.outcome  # learning rate × optimizer × seed
    for i, j in [(0, 0), (5, 1), (7, 1)]:
        hover(tab, "mixed", i, j)
        text = tip(tab, "mixed")
        assert (f"learning_rate: {result.axes[0].value_label(i)}" in text
                and f"optimizer: {result.axes[1].choices[j]}" in text)
        assert f"{OUTCOMES[maps.majority(codes, (2,))[i, j]]} (most common)" in text
        for code, n in zip(*np.unique(codes[i, j], return_counts=True)):
            assert f"{OUTCOMES[code]} {n}" in text
    tab.mouse.click(*hover(tab, "mixed", 7, 0).values())
    shown = tab.evaluate("edujaxPage.then(maps => maps.mixed.curves())")
    assert shown["steps"] == result.record_steps.tolist()
    assert len(shown["series"]) == 3  # one curve per seed
    for seed, series in enumerate(shown["series"]):
        assert series["label"].endswith(f"→ {OUTCOMES[codes[7, 0, seed]]}") and f"init seed = {seed}" in series["label"]
        truth = maps.loss_gap(result.loss[7, 0, seed], 0.0)
        drawn = np.array([np.nan if v is None else v for v in series["values"]], dtype=float)
        np.testing.assert_array_equal(np.isnan(drawn), np.isnan(truth))
        np.testing.assert_allclose(np.log10(drawn[~np.isnan(drawn)]), np.log10(truth[~np.isnan(truth)]), atol=0.2)
    assert tab.locator("#exp-mixed .curve canvas").count() == 1
    assert errors == []


def test_a_big_map_shows_the_nearest_stored_curve(loaded, results):
    tab, swept, errors = loaded
    big = swept["quadratic"]
    sampled = next(e for e in payload(results[2])["experiments"] if e["name"] == "quadratic")["curves"]["sampled"]
    i, j = next((i, j) for i in range(150, 256) for j in range(201, 256) if i not in sampled[0] and j not in sampled[1]
                and np.ravel_multi_index((i, j), big.outcome.shape) not in big.examples["index"])
    tab.mouse.click(*hover(tab, "quadratic", i, j).values())
    assert f"learning rate: {big.axes[0].value_label(i)}" in tip(tab, "quadratic")
    assert f"start angle θ (degrees): {big.axes[1].value_label(j)}" in tip(tab, "quadratic")
    assert OUTCOMES[big.outcome[i, j]] in tip(tab, "quadratic")
    si, sj = (s[int(np.argmin(np.abs(np.asarray(s) - k)))] for s, k in zip(sampled, (i, j)))
    assert (si, sj) != (i, j)  # this cell's own curve is not stored: the caption must say so
    assert "nearest stored run" in tab.locator("#exp-quadratic .curve .caption").inner_text()
    (series,) = tab.evaluate("edujaxPage.then(maps => maps.quadratic.curves())")["series"]
    assert series["label"] == (f"learning rate = {big.axes[0].value_label(si)}, start angle θ (degrees) = "
                               f"{big.axes[1].value_label(sj)} → {OUTCOMES[big.outcome[si, sj]]}")
    assert errors == []


def test_one_dimensional_and_faceted_maps(loaded):
    tab, swept, errors = loaded
    oned = swept["oned"]
    for i in (0, 11):
        hover(tab, "oned", i)
        assert OUTCOMES[oned.outcome[i]] in tip(tab, "oned")
    # loss × (1 − lr)^120: 0.98^120 ≫ rtol; |1 − 2.5| > 1
    assert OUTCOMES[oned.outcome[0]] == "slow" and OUTCOMES[oned.outcome[11]] == "diverged"

    faceted = swept["faceted"]
    majority = maps.majority(faceted.outcome, (3,))
    tab.evaluate("edujaxPage.then(maps => maps.faceted.setFacet(2))")
    assert tab.locator("#exp-faceted .facet output").inner_text() == "10"
    hover(tab, "faceted", 3, 0)
    text = tip(tab, "faceted")
    assert "curvature: 10" in text and f"{OUTCOMES[majority[3, 0, 2]]} (most common)" in text
    tab.mouse.click(*hover(tab, "faceted", 3, 0).values())
    labels = [s["label"] for s in tab.evaluate("edujaxPage.then(maps => maps.faceted.curves())")["series"]]
    assert len(labels) == 2 and all("curvature = 10" in label for label in labels)  # one per start point
    assert errors == []


def test_screenshot_shows_the_maps(loaded):
    from PIL import Image

    tab, swept, errors = loaded
    tab.locator("#exp-faceted .heatmap").scroll_into_view_if_needed()
    image = np.asarray(Image.open(io.BytesIO(tab.screenshot())).convert("RGB")).reshape(-1, 3)
    assert len(np.unique(image, axis=0)) > 50, "a blank or near-blank screenshot"
    drawn = {o: int(np.all(image == [int(COLORS[o][k:k + 2], 16) for k in (1, 3, 5)], axis=1).sum()) for o in OUTCOMES}
    assert sum(drawn.values()) > 20_000, drawn  # the map's cells are painted in the outcome colours
    assert errors == []


def test_the_links_wrap_and_the_sections_follow_the_story(browser, results):
    out, swept, path = results
    tab = browser.new_page(viewport={"width": 300, "height": 800})  # a narrow phone: the links must wrap, not run off
    tab.goto(path.as_uri())
    tab.wait_for_function("document.body.dataset.ready")
    box = tab.evaluate("""() => { const nav = document.querySelector('nav');
        return { scroll: nav.scrollWidth, client: nav.clientWidth, page: document.documentElement.scrollWidth,
                 right: Math.max(...[...nav.querySelectorAll('a')].map((a) => a.getBoundingClientRect().right)),
                 lines: new Set([...nav.querySelectorAll('a')]"""
                       """.map((a) => Math.round(a.getBoundingClientRect().top))).size }; }""")
    assert box["scroll"] <= box["client"] and box["right"] <= 300 and box["lines"] > 1, box
    links = tab.locator("nav a").all_inner_texts()
    assert links == ["quadratic", "faceted", "mixed", "oned", "oned_steeper"]
    tab.close()


def test_the_measure_switch_recolours_the_map_and_hover_shows_the_value(loaded):
    tab, swept, errors = loaded
    result = swept["mixed"]  # learning rate × optimizer × 3 seeds: the map shows the median over seeds
    median = np.median(result.measure, axis=2)
    api = "edujaxPage.then(maps => maps.mixed"
    assert tab.evaluate(f"{api}.colorAt(0, 0))") == COLORS[OUTCOMES[maps.majority(result.outcome, (2,))[0, 0]]]
    tab.evaluate(f"{api}.setView('measure'))")
    assert tab.locator("#exp-mixed .view input[value=measure]").is_checked()
    assert "log10(final gap / initial gap)" in tab.locator("#exp-mixed .legend").inner_text()
    low, high = min(median.min(), -1), max(median.max(), 1)
    for i in range(8):
        for j in range(2):
            red, green, blue = map(int, re.findall(r"\d+", tab.evaluate(f"{api}.colorAt({i}, {j}))")))
            if median[i, j] < 0:  # converging: blue, the deeper the darker
                assert blue >= red and (median[i, j] > 0.2 * low or blue > red + 20), (i, j, median[i, j])
            elif median[i, j] > 0:  # blew up or grew: red
                assert red >= blue and (median[i, j] < 0.2 * high or red > blue + 20), (i, j, median[i, j])
    i, j = np.unravel_index(np.argmax(median), median.shape)  # the most diverged cell: the darkest red
    assert tab.evaluate(f"{api}.colorAt({i}, {j}))") == "rgb(103,0,31)"
    hover(tab, "mixed", int(i), int(j))
    assert f"measure (median): {median[i, j]:.2f}" in tip(tab, "mixed")
    hover(tab, "quadratic", 10, 20)
    assert f"measure: {swept['quadratic'].measure[10, 20]:.2f}" in tip(tab, "quadratic")
    tab.evaluate(f"{api}.setView('outcome'))")
    assert tab.evaluate(f"{api}.colorAt(0, 0))") == COLORS[OUTCOMES[maps.majority(result.outcome, (2,))[0, 0]]]
    assert errors == []


def test_figures_are_shown_inline_and_load(loaded):
    tab, swept, errors = loaded
    images = tab.locator("#exp-oned .figures img")
    assert images.count() == 1 and images.first.get_attribute("src") == "oned/curves.png"
    assert images.first.get_attribute("loading") == "lazy"
    assert tab.locator("#exp-oned .figures img[src='oned/heatmap.png']").count() == 0  # the map is drawn by the page
    for image in (images.first, tab.locator("#cmp-oned_steeper img").first):
        image.scroll_into_view_if_needed()
        tab.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                              timeout=10_000)
    assert errors == []


def test_a_click_shows_the_clicked_runs_own_curve_at_every_step_when_stored(loaded, results):
    tab, swept, errors = loaded
    big = swept["quadratic"]
    sampled = next(e for e in payload(results[2])["experiments"] if e["name"] == "quadratic")["curves"]["sampled"]
    examples = big.examples
    for row, flat in enumerate(examples["index"]):
        i, j = np.unravel_index(int(flat), big.outcome.shape)
        if i not in sampled[0] or j not in sampled[1]:  # a representative run off the stored sub-grid
            break
    else:
        pytest.fail("every representative run is on the sub-grid: pick another grid")
    tab.mouse.click(*hover(tab, "quadratic", int(i), int(j)).values())
    caption = tab.locator("#exp-quadratic .curve .caption").inner_text()
    steps = examples.get("step", np.arange(big.steps + 1))
    assert caption.startswith("Loss curve of the run at") and f"every step ({len(steps)} points)" in caption
    (series,) = tab.evaluate("edujaxPage.then(maps => maps.quadratic.curves())")["series"]
    assert series["label"].endswith(f"→ {OUTCOMES[big.outcome[i, j]]}")
    shown = tab.evaluate("edujaxPage.then(maps => maps.quadratic.curves())")["steps"]
    assert shown == list(map(int, steps))
    truth = maps.loss_gap(examples["loss"][row], 0.0)
    drawn = np.array([np.nan if v is None else v for v in series["values"]], dtype=float)
    np.testing.assert_array_equal(np.isnan(drawn), np.isnan(truth))
    ok = ~np.isnan(truth)
    span = np.log10(truth[ok]).max() - np.log10(truth[ok]).min()
    np.testing.assert_allclose(np.log10(drawn[ok]), np.log10(truth[ok]), atol=span / (2 * page.LEVELS) + 0.006)

    i, j = sampled[0][3], sampled[1][5]  # on the sub-grid: its own record-point curve
    assert np.ravel_multi_index((i, j), big.outcome.shape) not in examples["index"]
    tab.mouse.click(*hover(tab, "quadratic", i, j).values())
    caption = tab.locator("#exp-quadratic .curve .caption").inner_text()
    assert caption.startswith("Loss curve of the run at") and f"{len(big.record_steps)} record points" in caption
    (series,) = tab.evaluate("edujaxPage.then(maps => maps.quadratic.curves())")["series"]
    drawn = np.array([np.nan if v is None else v for v in series["values"]], dtype=float)
    np.testing.assert_allclose(np.log10(drawn), np.log10(maps.loss_gap(big.loss[i, j], 0.0)), atol=0.1)
    assert errors == []


def test_seeds_give_probabilities_and_a_1d_sweep_gives_curves(loaded):
    """Hover: P(converged) with its Wilson interval from the cell's own seeds; the P view colours by it; below a
    1-D sweep's map, stacked outcome shares and the measure's median with its min-max band, counted here."""
    from edujax.store.probability import wilson_interval

    tab, swept, errors = loaded
    result = swept["mixed"]  # learning rate × optimizer × 3 seeds
    converged = (result.outcome == OUTCOMES.index("converged")).sum(2)
    api = "edujaxPage.then(maps => maps.mixed"
    tab.evaluate(f"{api}.setView('probability'))")
    for i, j in [(0, 0), (3, 1), (5, 0), (7, 1)]:
        k = int(converged[i, j])
        lo, hi = wilson_interval(k, 3)
        hover(tab, "mixed", i, j)
        expected = f"P(converged): {k / 3:.2f} [{float(lo):.2f}, {float(hi):.2f}] (95 % Wilson; {k} of 3)"
        assert expected in tip(tab, "mixed")
        ends = {0: "rgb(68,1,84)", 3: "rgb(253,231,37)"}  # viridis at 0 and 1
        if k in ends:
            assert tab.evaluate(f"{api}.colorAt({i}, {j}))") == ends[k]
    assert "share of the 3 runs per cell that ended converged" in tab.locator("#exp-mixed .legend").inner_text()
    charts = tab.evaluate(f"{api}.lines())")
    assert len(charts) == 4  # shares and measure, for sgd and for heavy ball
    for panel, (shares, measure) in enumerate([charts[:2], charts[2:]]):
        codes = result.outcome[:, panel, :]
        total = np.zeros(codes.shape[0])
        for code in range(len(OUTCOMES)):
            if (codes == code).any():
                total = total + (codes == code).mean(1)
                (series,) = [s for s in shares["series"] if s["label"] == OUTCOMES[code]]
                np.testing.assert_allclose(series["values"], total, atol=1e-6)
        median = [s for s in measure["series"] if s["label"] == "median"][0]["values"]
        np.testing.assert_allclose(median, np.median(result.measure[:, panel, :].astype(np.float64), 1), rtol=1e-6)
    (shares, measure) = tab.evaluate("edujaxPage.then(maps => maps.oned.lines())")
    assert max(s["values"][0] for s in shares["series"]) == 1.0
    assert tab.evaluate("edujaxPage.then(maps => maps.faceted.lines())") == []
    assert errors == []
