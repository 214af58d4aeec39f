"""The results page's claims tables: one row per claim, this run's numbers under the profile that ran."""

from dglnb import __version__
from dglnb.analysis import checks, summary

DGL = {"test_score.multimodal": {"mean": 0.921, "std": 0.005, "n": 3}}
VANILLA = {"test_score.multimodal": {"mean": 0.906, "std": 0.012, "n": 3}}
ONE_SEED = {"test_score.multimodal": {"mean": 0.93, "std": 0.0, "n": 1}}


def line(better=DGL, worse=VANILLA, statement="DGL's multimodal accuracy exceeds vanilla's"):
    claim = checks.claim(statement, better, worse, "test_score.multimodal")
    return summary.Line(
        claim,
        summary.paper_versus(77.48, 65.10),
        summary.versus(better["test_score.multimodal"], worse["test_score.multimodal"]),
    )


def ours(text):
    """``text`` with the non-breaking spaces that keep each side of a claim on one line."""
    return text.replace(" ± ", "\u00a0±\u00a0")


def test_numbers_of_both_sides_read_better_first_and_break_only_between_them():
    assert (
        summary.versus(DGL["test_score.multimodal"], VANILLA["test_score.multimodal"])
        == "92.1\u00a0±\u00a00.5 vs 90.6\u00a0±\u00a01.2"
    )
    assert summary.versus({"mean": 0.95, "std": 0.02, "n": 3}, None, scale=1, digits=2) == ours(
        "0.95 ± 0.02 vs -"
    )
    assert summary.paper_versus(77.48, 65.10) == "77.48 vs 65.10"
    assert summary.paper_versus(None, 65.1) == "- vs 65.10"
    assert summary.paper_versus(None, None) == "-"


def test_the_papers_sides_are_read_from_the_column_of_the_claims_head():
    from dglnb import paper

    table = paper.TABLE2_MMTM_CREMAD
    assert (
        summary.paper_heads_versus(table, paper.AUDIO_VISUAL_HEADS, "dgl", "vanilla", "visual")
        == "69.50 vs 23.43"
    )
    assert (
        summary.paper_heads_versus(table, paper.AUDIO_VISUAL_HEADS, "dgl", "audio_only", "audio")
        == "60.30 vs 59.18"
    )
    assert (
        summary.paper_heads_versus(paper.TABLE2_MOSI, paper.MOSI_HEADS, "dgl", "vanilla", "easy")
        == "-"
    )


def test_a_line_shows_the_claims_metric_as_the_claim_shows_its_gap():
    accuracy = summary.line(line().claim, DGL, VANILLA, "77.48 vs 65.10")
    assert accuracy == line()
    early, late = (
        {"ratio": {"mean": 0.95, "std": 0.02, "n": 3}},
        {"ratio": {"mean": 0.2, "std": 0.01, "n": 3}},
    )
    ratio = checks.claim("the ratio falls", early, late, "ratio", scale=1, unit="")
    assert summary.line(ratio, early, late) == summary.Line(
        ratio, "-", ours("0.95 ± 0.02 vs 0.20 ± 0.01")
    )


def test_verdict_gives_the_gap_in_standard_errors_against_what_the_claim_needs():
    claim = line().claim  # gap 1.5 points, SE sqrt(0.5**2/3 + 1.2**2/3) = 0.7506: 1.998 SE, below 2
    assert summary.verdict(claim) == "not\u00a0reproduced: 2.0\u00a0SE\u00a0(needs\u00a0>\u00a02)"
    assert claim.gap / claim.spread < 2
    wide = checks.claim(
        "x",
        DGL,
        {"test_score.multimodal": {"mean": 0.80, "std": 0.01, "n": 3}},
        "test_score.multimodal",
    )
    assert summary.verdict(wide).startswith("reproduced: 18.")
    assert (
        summary.verdict(wide).split(": ")[1].count(" ") == 0
    )  # the margin is not broken across lines


def test_this_runs_numbers_stand_under_the_profile_that_ran_and_the_other_says_so():
    quick = summary.claims_table([line()], "Chapter 03", "quick", "avdigits", [0, 1, 2]).frame
    assert quick.index.name == "the paper's claim"
    assert list(quick.columns) == ["paper", "quick profile", "full profile", "verdict"]
    row = quick.loc["DGL's multimodal accuracy exceeds vanilla's"]
    assert row.tolist() == [
        "77.48 vs 65.10",
        ours("92.1 ± 0.5 vs 90.6 ± 1.2"),
        summary.NOT_RUN,
        summary.verdict(line().claim),
    ]
    full = summary.claims_table([line()], "Chapter 03", "full", "cremad", [0, 1, 2]).frame
    assert full.loc[
        "DGL's multimodal accuracy exceeds vanilla's", ["quick profile", "full profile"]
    ].tolist() == [summary.NOT_RUN, ours("92.1 ± 0.5 vs 90.6 ± 1.2")]


def test_another_profile_gets_its_own_column_and_both_book_profiles_say_not_run():
    frame = summary.claims_table([line()], "Chapter 03", "smoke", "avdigits", [0]).frame
    assert list(frame.columns) == [
        "paper",
        "quick profile",
        "full profile",
        "smoke profile",
        "verdict",
    ]
    assert frame.iloc[0, :3].tolist() == ["77.48 vs 65.10", summary.NOT_RUN, summary.NOT_RUN]


def test_one_row_per_claim_in_order_and_a_caption_that_names_the_run():
    lines = [line(), line(ONE_SEED, VANILLA, "DGL exceeds +MT")]
    table = summary.claims_table(
        lines, "Chapter 03", "quick", "avdigits", [0, 1], theirs="paper (CREMA-D)"
    )
    assert list(table.frame.index) == [
        "DGL's multimodal accuracy exceeds vanilla's",
        "DGL exceeds +MT",
    ]
    assert table.frame.loc["DGL exceeds +MT", "quick profile"] == ours(
        "93.0 vs 90.6 ± 1.2"
    )  # one seed: no ±
    assert table.frame.columns[0] == "paper (CREMA-D)"
    assert table.caption.startswith("Chapter 03: the paper's claims")
    assert table.caption.endswith(f"(quick profile, avdigits, seeds 0, 1; dglnb {__version__})")
    html = table._repr_html_()
    assert html == table._repr_html_() and "<caption>" in html and "font-style: italic" in html


def test_the_claims_not_reproduced_are_listed_from_the_run():
    far_ahead = {"test_score.multimodal": {"mean": 0.99, "std": 0.005, "n": 3}}
    held, missed = (
        line(better=far_ahead),
        line(better=VANILLA, worse=DGL, statement="vanilla beats DGL"),
    )
    listed = summary.not_reproduced([held, missed], "Chapter 02", "quick")
    assert listed._repr_markdown_() == listed
    assert "- vanilla beats DGL (not\xa0reproduced" in listed and "DGL's multimodal" not in listed
    html = listed._repr_html_()  # what the results page shows
    assert html.startswith("<p>Chapter 02 (quick profile):</p><ul><li>vanilla beats DGL (not")
    assert html.count("<li>") == 1
    every = summary.not_reproduced([held], "Chapter 02", "quick")
    assert every == "Chapter 02 (quick profile): every claim reproduced."
    assert every._repr_html_() == "<p>Chapter 02 (quick profile): every claim reproduced.</p>"
