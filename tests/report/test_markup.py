"""report.markup: the HTML pieces escape what goes in."""
import re

from modeguard.report.markup import MAX_SAMPLE_PICTURES, Raw, bullet_list, fmt, img_tag, page, sample_grid, table, tag


def test_fmt():
    assert fmt(True) == "True" and fmt(12) == "12" and fmt(0.123456) == "0.1235" and fmt(float("inf")) == "inf"
    assert fmt("<b>") == "&lt;b&gt;"


def test_table_escapes_text_right_aligns_numbers_and_keeps_raw_cells():
    html = table(["a<", "b"], [[1.5, "<x>"], [Raw("<i>ok</i>"), True]])
    assert "<th>a&lt;</th>" in html and '<td class="num">1.5</td>' in html and "<td>&lt;x&gt;</td>" in html
    assert "<td><i>ok</i></td>" in html and "<td>True</td>" in html


def test_lists_tags_images_and_page():
    assert bullet_list(["a&b"]) == "<ul><li>a&amp;b</li></ul>"
    assert tag("heal<", "#123") == '<span class="tag" style="background:#123">heal&lt;</span>'
    assert img_tag(b"\x89PNG", 'a"b') == '<img alt="a&quot;b" src="data:image/png;base64,iVBORw==">'
    doc = page("t<", "<p>x</p>")
    assert doc.startswith("<!DOCTYPE html>") and "<title>t&lt;</title>" in doc and doc.endswith("<p>x</p></body></html>")


def test_sample_grid_keeps_first_and_last_and_captions_steps(tmp_path):
    paths = []
    for step in range(0, 300, 10):
        p = tmp_path / f"step-{step:08d}.png"
        p.write_bytes(b"\x89PNG")
        paths.append(p)
    grid = sample_grid(paths, "main ")
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", grid)
    assert len(captions) == MAX_SAMPLE_PICTURES and captions[0] == "main step 0" and captions[-1] == "main step 290"
    final = tmp_path / "final_samples.png"
    final.write_bytes(b"\x89PNG")
    assert "<figcaption>final samples</figcaption>" in sample_grid([final])
    assert sample_grid([]) == ""
