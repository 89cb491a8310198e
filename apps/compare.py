"""xaicnn's comparison app: ``streamlit run apps/compare.py`` (``make demo`` opens it on a demo set).

Sidebar: the checkpoint folder, the runs found there (a file that is not a checkpoint, or whose weights
don't fit its architecture, listed as broken), the runs to compare. Pages: Overview, Curves, Gradient flow,
Complexity, Receptive fields, Similarity, Inside, Confusion, Attributions, Studies - only the open page runs, and a run that fails on a page is
named there and left out, never blanking the others. A thin view: every number and figure comes from
xaicnn's library functions (the ones the CLI calls), cached in ``_cached``.

The app serves one tree: it reads checkpoints and studies only under the checkpoint folder
(``$XAICNN_CHECKPOINT_DIR``, else ``checkpoints/``) and the studies folders (``studies/``, ``docs/studies/``).
A folder typed in the sidebar or on the Studies page that resolves outside them (``..`` and symlinks
followed) is refused with one sentence, and nothing is read there.
"""
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:  # the page modules next to this file, however the script is started
    sys.path.insert(0, HERE)

import streamlit as st  # noqa: E402

import _attributions  # noqa: E402
import _cached as cached  # noqa: E402
import _confusion  # noqa: E402
import _inside  # noqa: E402
import _pages as pages  # noqa: E402
import _representations  # noqa: E402
import _studies  # noqa: E402
from xaicnn.analysis.runs import confine, roots_text  # noqa: E402
from xaicnn.errors import UserError  # noqa: E402
from xaicnn.training.checkpoint import checkpoint_dir  # noqa: E402

DEFAULT_SELECTION = 6  # runs selected when a folder is opened

st.set_page_config(page_title="xaicnn - compare runs", page_icon=":material/compare:", layout="wide",
                   initial_sidebar_state=400)  # pixels: room for the run list

# --- sidebar: folder and runs ---------------------------------------------------------------------------
st.session_state.setdefault("folder", str(checkpoint_dir()))
st.sidebar.title("xaicnn compare")
served = _studies.served_roots()
folder = st.sidebar.text_input("Checkpoint folder", key="folder",
                               help=f"Every *.pt file under this folder is listed; default: $XAICNN_CHECKPOINT_DIR, "
                                    f"else checkpoints/. The app serves {roots_text(served)} and the folders under "
                                    f"them, nothing else: to compare runs elsewhere, start it with "
                                    f"XAICNN_CHECKPOINT_DIR set to their folder.")
try:
    entries = cached.scan(str(confine(folder, served)))  # resolved: '..' and symlinks can't lead out
except UserError as err:
    st.sidebar.error(str(err))
    entries = []
good = [e for e in entries if e.ok]
by_name = {e.name: e for e in good}

if st.session_state.get("opened_folder") != folder:  # a new folder: select its first runs
    st.session_state["opened_folder"] = folder
    st.session_state["selected"] = list(by_name)[:DEFAULT_SELECTION]
st.session_state["selected"] = [n for n in st.session_state.get("selected", []) if n in by_name]
if good:
    st.sidebar.multiselect("Runs to compare", list(by_name), key="selected")
    st.sidebar.markdown("\n".join(pages.run_line(e) for e in good))
for e in entries:
    if not e.ok:
        st.sidebar.error(f"**{e.name}** is broken: {e.error}")
selected = [by_name[n] for n in st.session_state["selected"]]

# --- main area ------------------------------------------------------------------------------------------
_studies.back_button()
if not good:
    st.markdown(pages.EMPTY_STATE.format(folder=folder))
    _studies.page([], compact=True)
    st.stop()

PAGES = {"Overview": pages.overview, "Curves": pages.curves, "Gradient flow": pages.gradient_flow,
         "Complexity": pages.complexity, "Receptive fields": _representations.fields_page,
         "Similarity": _representations.similarity_page, "Inside": _inside.page, "Confusion": _confusion.page,
         "Attributions": _attributions.page, "Studies": _studies.page}
for tab, (name, page) in zip(st.tabs(list(PAGES), key="page", on_change="rerun"), PAGES.items()):
    if not tab.open:
        continue  # lazy tabs: only the open page computes anything
    with tab:
        if not selected and name != "Studies":
            st.info("Select one or more runs in the sidebar.")
        else:
            page(selected)
