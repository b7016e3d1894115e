"""The function list, create page and Code tab in a real browser, through the UI only."""

from __future__ import annotations

import io
import json
import os
import urllib.request
import zipfile
from typing import Any

import pytest

from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]

NEW_HANDLER = """from greeting import GREETING


def lambda_handler(event, context):
    print("edited in the browser")
    return {"greeting": GREETING, "echo": event.get("name")}
"""


def _editor_text(console: Console) -> str:
    text: str = console.page.eval_on_selector(
        "#code-editor .cm-content", "el => el.cmView ? el.cmView.view.state.doc.toString() : ''"
    )
    return text or console.page.inner_text("#code-editor .cm-content")


def _create_from_blueprint(
    console: Console, name: str, blueprint: str, editable: bool = True
) -> None:
    console.goto("/")
    console.page.click("text=Create function")
    console.page.wait_for_selector("h1:has-text('Create function')")
    console.page.check(f"input[name=source_choice][value={blueprint}]")
    console.page.fill("input[name=name]", name)
    console.page.click("button:has-text('Create function')")
    console.page.wait_for_url(f"**/functions/{name}/#code")
    if editable:
        console.page.wait_for_selector("#code-editor .cm-content")
    else:  # a prebuilt binary (the Go blueprint): the tab says why it shows no editor
        console.page.wait_for_selector("#code-too-large-reason:not(:empty)")


def test_create_from_the_python_blueprint_edit_in_the_editor_deploy_and_invoke(
    console: Console,
) -> None:
    page = console.page
    console.goto("/")
    page.click("text=Create function")
    page.wait_for_selector("h1:has-text('Create function')")
    console.screenshot("console-create")
    _create_from_blueprint(console, "edited", "hello-python")
    assert "lambda_handler" in page.inner_text("#code-editor .cm-content")
    assert page.is_hidden("#code-dirty")

    # A second file, from the tree, in its own tab.
    page.click("#code-new-file")
    page.fill(".tree-input input", "greeting.py")
    page.press(".tree-input input", "Enter")
    page.wait_for_selector(".code-tab.active :text('greeting.py')")
    page.click("#code-editor .cm-content")
    page.keyboard.type('GREETING = "hello from the editor"\n')
    assert page.is_visible("#code-dirty")

    # Back to the handler's tab; replace its text by typing into CodeMirror.
    page.click(".code-tab button[role=tab]:text('lambda_function.py')")
    page.click("#code-editor .cm-content")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(NEW_HANDLER)
    assert "edited in the browser" in page.inner_text("#code-editor .cm-content")
    console.screenshot("console-code-editing")

    old_sha = page.inner_text("#prop-sha")
    page.keyboard.press("Control+S")  # deploys
    page.wait_for_selector("#code-status:has-text('Deployed')")
    assert page.is_hidden("#code-dirty")
    assert page.inner_text("#prop-sha") != old_sha
    console.screenshot("console-code")

    result = console.lam.invoke(FunctionName="edited", Payload=json.dumps({"name": "Ada"}))
    payload = json.loads(result["Payload"].read())
    assert "FunctionError" not in result, payload
    assert payload == {"greeting": "hello from the editor", "echo": "Ada"}
    code = console.lam.get_function(FunctionName="edited")["Configuration"]
    assert code["CodeSha256"] == page.inner_text("#prop-sha")

    # Runtime settings: the handler changes through UpdateFunctionConfiguration.
    page.fill("#handler-input", "lambda_function.lambda_handler")
    page.click("button:has-text('Save runtime settings')")
    page.wait_for_selector("#runtime-status:has-text('Saved')")

    console.goto("/")
    page.wait_for_selector("table.fn-table :text('edited')")
    console.screenshot("console-function-list")
    assert console.foreign_requests() == []


@pytest.mark.parametrize(
    ("blueprint", "expected"),
    [
        ("hello-bash", "Echoing request"),
        ("hello-nodejs", "Hello from Lambda!"),
        ("hello-go", "Hello from Lambda!"),
    ],
)
def test_the_bash_nodejs_and_go_blueprints_run(
    console: Console, blueprint: str, expected: str
) -> None:
    _create_from_blueprint(console, "started", blueprint, editable=blueprint != "hello-go")
    result = console.lam.invoke(FunctionName="started", Payload=b'{"x": 1}')
    body = result["Payload"].read().decode()
    assert "FunctionError" not in result, body
    assert expected in body
    assert console.foreign_requests() == []


def test_the_file_tree_renames_and_deletes_files_and_folders(console: Console) -> None:
    page = console.page
    page.on("dialog", lambda dialog: dialog.accept())
    _create_from_blueprint(console, "tree", "hello-python")
    page.click("#code-new-folder")
    page.fill(".tree-input input", "lib")
    page.press(".tree-input input", "Enter")
    page.click("#code-new-file")  # inside the selected folder
    assert page.input_value(".tree-input input") == "lib/"
    page.fill(".tree-input input", "lib/util.py")
    page.press(".tree-input input", "Enter")
    page.keyboard.type("X = 1")
    page.hover("#code-tree li[data-path='lib']")
    page.click("[aria-label='Rename lib']")
    page.fill(".tree-input input", "pkg")
    page.press(".tree-input input", "Enter")
    page.wait_for_selector("#code-tree [data-path='pkg/util.py']")
    assert page.is_visible(".code-tab button[title='pkg/util.py']")
    page.click("#code-deploy")
    page.wait_for_selector("#code-status:has-text('Deployed')")
    console.screenshot("console-code-tree")
    zipped = console.lam.get_function(FunctionName="tree")["Code"]["Location"]
    with urllib.request.urlopen(zipped) as response:
        names = zipfile.ZipFile(io.BytesIO(response.read())).namelist()
    assert sorted(names) == ["lambda_function.py", "pkg/util.py"]

    page.hover("#code-tree li[data-path='pkg']")
    page.click("[aria-label='Delete pkg']")
    page.wait_for_selector("#code-tree [data-path='pkg']", state="detached")
    assert page.is_visible("#code-dirty")
    assert not page.is_visible(".code-tab button[title='pkg/util.py']")


def _package_with_a_binary_file() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", "def go(event, context):\n    return 'uploaded'\n")
        # Incompressible and binary: a visible upload progress, and too much for the editor.
        archive.writestr("blob.bin", os.urandom(4 * 1024 * 1024), zipfile.ZIP_STORED)
    return buffer.getvalue()


def test_uploading_a_zip_shows_progress_and_a_large_package_offers_a_download(
    console: Console,
) -> None:
    page = console.page
    seen: list[str] = []
    page.expose_function("recordProgress", lambda text: seen.append(text))
    console.goto("/functions/new/")
    page.check("input[name=source_choice][value=upload]")
    page.fill("input[name=name]", "uploaded")
    page.set_input_files(
        "input[name=file]",
        files=[
            {
                "name": "pkg.zip",
                "mimeType": "application/zip",
                "buffer": _package_with_a_binary_file(),
            }
        ],
    )
    page.select_option("select[name=runtime]", "python3.11")
    page.fill("input[name=handler]", "main.go")
    page.evaluate(
        """() => new MutationObserver(() => window.recordProgress(
               document.getElementById('upload-percent').textContent))
             .observe(document.getElementById('upload-percent'),
                      {childList: true, characterData: true, subtree: true})"""
    )
    page.click("button:has-text('Create function')")
    page.wait_for_url("**/functions/uploaded/#code")
    assert any(text.startswith("100 %") for text in seen), seen

    page.wait_for_selector("#code-too-large:not([hidden])")
    assert "larger than the editor's limit" in page.inner_text("#code-too-large")
    href: Any = page.get_attribute("#code-download", "href")
    assert "/_functory/code/" in href
    console.screenshot("console-code-not-editable")
    result = console.lam.invoke(FunctionName="uploaded")
    assert json.loads(result["Payload"].read()) == "uploaded"
    assert console.foreign_requests() == []


def test_create_errors_show_next_to_the_field(console: Console) -> None:
    page = console.page
    console.goto("/functions/new/")
    page.fill("input[name=name]", "not a valid name")
    page.click("button:has-text('Create function')")
    page.wait_for_selector("[data-error-for=name]:not([hidden])")
    assert "letters, digits" in page.inner_text("[data-error-for=name]")
