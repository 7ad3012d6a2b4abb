"""The HTML page served at ``/``: a form that calls text2img and shows the images.

It uses only the public API (fetch() from the browser, polling fetch_result while
the answer is ``processing``), so it doubles as a worked example of a client.
"""
from __future__ import annotations

__all__ = ["index_html"]

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>t2i reference backend</title>
<style>
 body { font-family: sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
 label { display: block; margin: .4rem 0; }
 input[type=text] { width: 30rem; }
 #images img { margin: .5rem .5rem 0 0; border: 1px solid #ccc; }
 pre { background: #f4f4f4; padding: .5rem; overflow-x: auto; }
</style>
</head>
<body>
<h1>t2i reference backend</h1>
<p>Generate an image through <code>POST __BASE_PATH__/text2img</code>.</p>
<form id="form">
 <label>API key <input type="text" name="key" value="local-key"></label>
 <label>Model id <input type="text" name="model_id" value="tiny-sd"></label>
 <label>Prompt <input type="text" name="prompt" value="a lighthouse at dusk"></label>
 <label>LoRAs (comma-separated) <input type="text" name="lora_model" value=""></label>
 <label>LoRA strengths <input type="text" name="lora_strength" value=""></label>
 <label>Width <input type="number" name="width" value="256" step="8" min="256" max="1024"></label>
 <label>Height <input type="number" name="height" value="256" step="8" min="256" max="1024"></label>
 <label>Steps <input type="number" name="num_inference_steps" value="4" min="1" max="20"></label>
 <label>Seed <input type="text" name="seed" value=""></label>
 <button type="submit">Generate</button>
</form>
<div id="images"></div>
<pre id="answer"></pre>
<script>
const form = document.getElementById("form");
const show = (answer) => {
  document.getElementById("answer").textContent = JSON.stringify(answer, null, 2);
  const box = document.getElementById("images");
  box.innerHTML = "";
  for (const url of (answer.status === "success" ? answer.output : [])) {
    const img = document.createElement("img"); img.src = url; box.appendChild(img);
  }
};
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {};
  for (const [name, value] of new FormData(form)) { if (value !== "") body[name] = value; }
  body.enhance_prompt = false;
  let answer = await (await fetch("__BASE_PATH__/text2img", {method: "POST",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})).json();
  show(answer);
  while (answer.status === "processing") {
    await new Promise((done) => setTimeout(done, 1000));
    answer = await (await fetch(answer.fetch_result, {method: "POST",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify({key: body.key})})).json();
    show(answer);
  }
});
</script>
</body>
</html>
"""


def index_html(base_path: str) -> str:
    """The page, calling the API under the spec's ``base_path``."""
    return _PAGE.replace("__BASE_PATH__", base_path)
