"""The Studies page: the study folders under a root (``studies/``, and ``docs/studies/`` when it holds any),
each with its results table, the verdict on every claim, its figures and report, and a button that
opens the study's runs in the sidebar. The root typed here is confined like the sidebar's folder
(:func:`served_roots`), and a study's figures and report are shown only from inside those folders.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

import _cached as cached
from _pages import one_sentence
from xaicnn.errors import UserError

DEFAULT_ROOT = "studies"
DOCS_ROOT = "docs/studies"  # the reports shipped with the project
HIDDEN_SUFFIXES = ("_n", "_ci_low", "_ci_high")  # the report has the intervals; the table stays readable


def served_roots() -> list[Path]:
    """The folders the app reads: the checkpoint folder and the two studies folders
    (:func:`xaicnn.analysis.runs.allowed_roots`)."""
    from xaicnn.analysis.runs import allowed_roots

    return allowed_roots(DEFAULT_ROOT, DOCS_ROOT)


def _served(path) -> bool:
    from xaicnn.analysis.runs import confine

    try:
        confine(path, served_roots())
        return True
    except UserError:
        return False


def open_runs(runs_dir: str) -> None:
    """Button callback (runs before the next rerun draws the sidebar): point the sidebar at the study's runs,
    select them all and show the Overview."""
    from xaicnn.analysis.runs import confine

    try:  # the same cached scan the sidebar makes next
        names = [e.name for e in cached.scan(str(confine(runs_dir, served_roots()))) if e.ok]
    except UserError:
        names = []  # outside the served folders: the sidebar says so
    back = {"folder": st.session_state.get("folder"), "selected": list(st.session_state.get("selected", [])),
            "study": st.session_state.get("study")}
    st.session_state.update(folder=runs_dir, opened_folder=runs_dir, selected=names, page="Overview",
                            study_return=back)


def go_back() -> None:
    """Button callback: the folder and runs from before "Compare this study's runs", on the Studies page."""
    back = st.session_state.pop("study_return", None) or {}
    st.session_state.update(folder=back.get("folder"), opened_folder=back.get("folder"),
                            selected=back.get("selected", []), page="Studies")
    if back.get("study"):
        st.session_state["study"] = back["study"]


def back_button() -> None:
    """After a study's runs were opened: one button back to the study (shown above every page)."""
    back = st.session_state.get("study_return")
    if back:
        st.button(f"Back to the study {Path(back['study']).name if back.get('study') else ''} and the folder "
                  f"{back.get('folder')}", on_click=go_back, key="study_back", icon=":material/arrow_back:")


def _study_folders(root: str) -> list[str]:
    folders = cached.find_studies(root)
    if root.rstrip("/") != DOCS_ROOT:
        folders += [f for f in cached.find_studies(DOCS_ROOT) if f not in folders]
    return folders


def page(entries=(), compact: bool = False) -> None:
    """The page (it does not use the selected runs ``entries``). ``compact``: the empty-state variant, shown
    under the no-runs paragraph and silent when no study exists."""
    from xaicnn.analysis.runs import confine, roots_text

    root = st.session_state.get("studies_root", DEFAULT_ROOT)
    refused = None
    try:
        confine(root, served_roots())
        folders = _study_folders(root)
    except UserError as err:
        refused, folders = err, []
    if compact and not folders and not refused:
        return
    if compact:
        st.subheader("Studies")
    root = st.text_input("Studies folder", value=DEFAULT_ROOT, key="studies_root",
                         help=f"Folders holding a study.json (written by 'xaicnn study'); {DOCS_ROOT}/ is always "
                              f"listed too when it holds any. Only folders under "
                              f"{roots_text(served_roots())} are read.")
    if refused:
        st.error(str(refused))
        return
    if not folders:
        st.info(f"No studies under `{root}` or `{DOCS_ROOT}`. Run one with `xaicnn study vgg_kernel --preset quick` "
                f"(minutes on a CPU); its folder appears here.")
        return
    folder = st.selectbox("Study", folders, key="study", format_func=lambda f: f"{Path(f).name}  ({f})")
    with one_sentence():
        result = cached.study(folder)
        st.subheader(f"{result.name}: {result.description}")
        st.caption(f"{result.preset} preset, {result.seeds} seed(s) per condition, dataset {result.dataset}; "
                   f"status {result.status}; {result.seconds / 60:.1f} min wall clock.")
        runs_dir = str(result.runs_dir)
        if any(Path(runs_dir).glob("*.pt")):
            st.button(f"Compare this study's runs ({runs_dir})", on_click=open_runs, args=(runs_dir,),
                      key="open_study_runs", icon=":material/arrow_forward:")
        else:
            st.caption(f"Its runs are not here ({runs_dir} holds no checkpoints; shipped reports come without them).")
        if result.claims:
            _claims(result.claims)
        if result.table:
            st.markdown("**Results per condition** (mean and standard deviation over seeds)")
            st.dataframe(_condition_rows(result.table), hide_index=True)
        if result.reductions:
            st.caption("Reductions from the original settings: " + "; ".join(result.reductions) + ".")
        figures = [f for f in result.figures if Path(f).is_file() and _served(f)]  # a record can name any path
        if figures:
            with st.expander(f"Figures ({len(figures)})", expanded=len(figures) <= 4):
                for figure in figures:  # at their natural size, never stretched to the page (a 52-class
                    st.image(str(figure), caption=Path(figure).stem, width="content")  # matrix is large enough)
        if Path(result.report_md).is_file() and _served(result.report_md):
            with st.expander("The whole report (report.md)"):
                st.markdown(Path(result.report_md).read_text())


def _claims(claims: list[dict]) -> None:
    """Statistical verdicts and exact checks in two tables, never counted together."""
    from xaicnn.studies import verdicts
    from xaicnn.studies.markdown import effect_text

    statistical = [c for c in claims if not verdicts.is_exact(c)]
    exact = [c for c in claims if verdicts.is_exact(c)]
    tally = verdicts.tally(claims)
    if statistical:
        st.markdown("**Claims of the original and their verdicts** - "
                    + ", ".join(f"{n} {v}" for v, n in tally["statistical"].items() if n))
        st.caption("Welch's test across seeds, Holm-adjusted within the study (TOST for 'about the same'); "
                   "the report explains each verdict.")
        st.dataframe([{"claim": c["claim"], "source": c.get("source"), "source's figures": c.get("original"),
                       "ours": c.get("ours"), "our effect [95% CI]": effect_text(c), "Hedges' g": c.get("hedges_g"),
                       "p": c.get("p_tost") if c.get("direction") == "~" else c.get("p_value"),
                       "p (Holm)": c.get("p_tost_holm") if c.get("direction") == "~" else c.get("p_holm"),
                       "verdict": c["verdict"]} for c in statistical], hide_index=True,
                     column_config={"p": st.column_config.NumberColumn(format="%.2g"),
                                    "p (Holm)": st.column_config.NumberColumn(format="%.2g"),
                                    "Hedges' g": st.column_config.NumberColumn(format="%+.2f")})
    if exact:
        st.markdown("**Exact checks** - " + ", ".join(f"{n} {v}" for v, n in tally["exact"].items() if n))
        st.dataframe([{"check": c["claim"], "source": c.get("source"), "source's figures": c.get("original"),
                       "ours": c.get("ours"), "verdict": c["verdict"]} for c in exact], hide_index=True)


def _condition_rows(table: list[dict]) -> list[dict]:
    """The per-condition table with the report's column names, mean +- std as one text, "—" where empty."""
    from xaicnn.studies.markdown import fmt
    from xaicnn.studies.results import METRICS, TABLE_METRICS

    rows = []
    for row in table:
        out = {"condition": row.get("title", row.get("condition")), "arch": row.get("arch"), "n": row.get("n")}
        if "at_chance" in row:
            out["state"] = "at chance" if row["at_chance"] else "still improving" if row.get("improving") else "plateau"
        for key in TABLE_METRICS:
            if METRICS[key].exact:
                out[METRICS[key].label] = fmt(key, row.get(key))
            else:
                mean, std = row.get(f"{key}_mean"), row.get(f"{key}_std")
                out[METRICS[key].label] = fmt(key, mean) + ("" if std is None or std != std else f" ± {fmt(key, std)}")
        rows.append(out)
    return rows
