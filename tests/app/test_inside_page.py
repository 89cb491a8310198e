"""The Inside page (issue 14) under AppTest, on the two tiny digits runs, and the links that open it."""
from test_app import open_app, show, texts


def test_inside_page_shows_filters_maps_top_images_and_unit_health(runs_folder, monkeypatch, tmp_path):
    at = show(open_app(runs_folder, monkeypatch, tmp_path), "Inside")
    assert not at.exception and not at.main.error, [e.value for e in at.main.error]
    # filters and feature maps (one figure per run each), top images of both runs, unit health
    assert len(at.main.image) == 2 + 2 + 2 + 1
    health = at.main.dataframe[0].value
    assert set(health["run"]) == {"transformer_block", "vgg_block"}
    assert ((health["dead share"] >= 0) & (health["dead share"] <= 1)).all()
    layer = at.selectbox(key="inside_layer_vgg_block")
    assert layer.value in layer.options and len(layer.options) >= 1
    at.number_input(key="inside_image").set_value(7).run()
    assert not at.exception and not at.main.error
    at.number_input(key="inside_image").set_value(59).run()  # the last of the 60 validation images
    assert not at.exception and not at.main.error


def test_confusion_drilldown_opens_its_image_inside(runs_folder, monkeypatch, tmp_path):
    at = show(open_app(runs_folder, monkeypatch, tmp_path), "Confusion")
    for digit in range(10):  # the first correctly classified digit the tiny run has in its validation split
        at.session_state["cm_pick"] = {"run": "vgg_block", "true": digit, "predicted": digit}
        at = at.run()
        buttons = [b for b in at.button if b.key == "cm_inside"]
        if buttons:
            break
    assert not at.exception
    (button,) = buttons
    first = int(button.label.rsplit(" ", 1)[1])
    button.click().run()
    assert at.session_state["page"] == "Inside" and at.session_state["inside_image"] == first
    assert not at.exception and "Unit health" in texts(at)
