// The reference backend's page: a tab per operation of the API, built from CONFIG (page.py reads it
// from the spec), speaking the same public API any client does. Plain browser JavaScript, no build step.
"use strict";
const $ = (id) => document.getElementById(id);
const el = (tag, text, cls) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
};
const LISTS = {lora_model: "loras", vae: "vaes"};
const WIDE = new Set(["prompt", "negative_prompt", "webhook", "lora_model"]);
const FIRST = ["key", "model_id"];  // then the input images, then the spec's order
const state = {op: null, held: {models: [], loras: [], vaes: [], families: {models: {}, loras: {}}}};
const uploads = {};  // "<op> <field>" -> data: URI of a file the user picked
const masks = {};    // op id -> {canvas, drawn}

const opOf = (id) => CONFIG.operations.find((op) => op.id === id);
const box = (op) => $("op-" + op.id);

function control(op, field) {
  const suggested = CONFIG.suggested[field.name];
  let input;
  if (field.name === "model_id") {
    input = el("select");  // filled from GET /models
    input.addEventListener("change", () => showLoras(op));
  } else if (field.enum || field.type === "boolean") {
    input = el("select");
    const choices = field.enum || [true, false];
    if (!field.required) input.append(new Option(field.default === null || field.default === undefined
      ? "(none)" : "(default: " + field.default + ")", ""));
    for (const value of choices) input.append(new Option(String(value), JSON.stringify(value)));
    input.dataset.json = "1";
  } else if (field.name === "prompt" || field.name === "negative_prompt") {
    input = el("textarea"); input.rows = 2;
  } else {
    input = el("input");
    input.type = (field.type === "integer" || field.type === "number") ? "number" : "text";
    if (input.type === "number") { input.step = "any"; input.dataset.number = "1"; }
    if (LISTS[field.name]) input.setAttribute("list", "list-" + LISTS[field.name]);
  }
  input.name = field.name;
  if (field.default !== null && field.default !== undefined && input.tagName !== "SELECT") {
    input.placeholder = "default: " + field.default;
  }
  // an output the size of the init image (the spec): no width or height suggested there
  const sized = initField(op) && (field.name === "width" || field.name === "height");
  if (suggested !== undefined && input.tagName !== "SELECT" && !sized) input.value = suggested;
  return input;
}

// An input image: a URL the server fetches (under its URL policy), or a file picked here and sent as a data: URI.
function imageControl(op, field) {
  const wrap = el("div", undefined, "image-field");
  const url = el("input"); url.type = "text"; url.name = field.name;
  url.placeholder = "an http(s) URL the server fetches, or pick a file";
  const file = el("input"); file.type = "file"; file.accept = "image/png,image/jpeg";
  file.dataset.upload = field.name;
  const preview = el("div", undefined, "preview");
  const img = el("img"); img.alt = field.name; img.hidden = true;
  preview.append(img);
  const key = op.id + " " + field.name;
  const showImage = (src) => { img.hidden = !src; if (src) img.src = src; else img.removeAttribute("src"); };
  url.addEventListener("input", () => { delete uploads[key]; file.value = ""; showImage(url.value.trim()); });
  file.addEventListener("change", () => {
    const picked = file.files[0];
    if (!picked) return;
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      uploads[key] = reader.result; url.value = ""; url.placeholder = "file: " + picked.name;
      showImage(reader.result);
    });
    reader.readAsDataURL(picked);
  });
  wrap.append(url, el("span", " or a file: "), file, el("br"), preview);
  wrap.setImage = (src) => { delete uploads[key]; file.value = ""; url.value = src; showImage(src); };
  if (op.mask && field.name !== op.mask && field.name === initField(op)) maskCanvas(op, img, preview);
  return wrap;
}
const initField = (op) => (op.fields.find((f) => f.image && f.name !== op.mask && f.name !== "ip_adapter_image")
  || {}).name;

// The mask: a canvas the size of the image, laid over it; the brush paints white, the rest stays black.
function maskCanvas(op, img, preview) {
  const canvas = el("canvas", undefined, "mask");
  canvas.dataset.mask = op.mask;
  canvas.hidden = true;
  preview.append(canvas);
  const mask = masks[op.id] = {canvas, drawn: false, size: 24};
  const ctx = canvas.getContext("2d");
  img.addEventListener("load", () => {
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight; canvas.hidden = false;
    mask.drawn = false;
  });
  const point = (event) => {
    const rect = canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) * canvas.width / rect.width, (event.clientY - rect.top) * canvas.height / rect.height];
  };
  let last = null;
  const paint = (event) => {
    const [x, y] = point(event);
    ctx.strokeStyle = ctx.fillStyle = "#fff";
    ctx.lineWidth = mask.size * canvas.width / canvas.getBoundingClientRect().width;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    if (last) { ctx.moveTo(last[0], last[1]); ctx.lineTo(x, y); ctx.stroke(); }
    else { ctx.arc(x, y, ctx.lineWidth / 2, 0, 2 * Math.PI); ctx.fill(); }
    last = [x, y]; mask.drawn = true;
  };
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault(); canvas.setPointerCapture(event.pointerId); last = null; paint(event);
  });
  canvas.addEventListener("pointermove", (event) => { if (last) paint(event); });
  const stop = () => { last = null; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  mask.clear = () => { ctx.clearRect(0, 0, canvas.width, canvas.height); mask.drawn = false; };
  // Black where nothing was drawn, white where it was: the Stable Diffusion convention the spec states.
  mask.dataUrl = () => {
    const out = el("canvas"); out.width = canvas.width; out.height = canvas.height;
    const c = out.getContext("2d");
    c.fillStyle = "#000"; c.fillRect(0, 0, out.width, out.height); c.drawImage(canvas, 0, 0);
    return out.toDataURL("image/png");
  };
}

function maskTools(op, field) {
  const tools = el("div", undefined, "mask-tools");
  const size = el("input"); size.type = "range"; size.min = "4"; size.max = "96"; size.value = "24";
  size.dataset.brush = "1";
  size.addEventListener("input", () => { masks[op.id].size = Number(size.value); });
  const clear = el("button", "Clear mask"); clear.type = "button"; clear.dataset.clearMask = "1";
  clear.addEventListener("click", () => masks[op.id].clear());
  tools.append(el("span", "draw on the " + initField(op) + " above: white is painted anew, the rest kept. Brush "),
               size, " ", clear);
  tools.title = field.description || "";
  return tools;
}

function buildForms() {
  const tabs = $("tabs"), forms = $("forms");
  for (const op of CONFIG.operations) {
    const tab = el("button", op.tab); tab.type = "button"; tab.id = "tab-" + op.tab;
    tab.setAttribute("role", "tab"); tab.dataset.op = op.id;
    tab.addEventListener("click", () => select(op.id));
    tabs.append(tab);
    const set = el("fieldset", undefined, "op"); set.id = "op-" + op.id; set.hidden = true;
    set.append(el("p", "POST " + op.path + (op.role === "reload" ? ": load a model (again); the answer says when it is ready"
      : ": only the fields you fill are sent, the spec's defaults apply to the rest"), "about"));
    const order = (f) => (FIRST.includes(f.name) ? FIRST.indexOf(f.name) : f.image && f.name !== "ip_adapter_image" ? 2 : 3);
    const fields = op.fields.slice().sort((a, b) => order(a) - order(b));
    for (const field of fields) {
      const image = field.image && field.name !== op.mask;
      const label = el(field.image ? "div" : "label", undefined,  // a label would send a click on the image to the URL box
                       (WIDE.has(field.name) || field.image ? "wide " : "") + (field.deprecated ? "deprecated" : ""));
      label.title = field.description || "";
      const range = [field.minimum, field["x-t2i-clamp-maximum"] || field.maximum].filter((v) => v !== undefined);
      const sides = field["x-t2i-image"] ? " (" + field["x-t2i-image"]["min-side"] + "-" + field["x-t2i-image"]["max-side"]
        + " px, " + field["x-t2i-image"].formats.join("/") + ")" : "";
      label.append(field.name + (field.required ? " *" : "") + (range.length === 2 ? " (" + range.join("-") + ")" : "")
                   + sides + (field.deprecated ? " (deprecated)" : ""), el("br"),
                   field.name === op.mask ? maskTools(op, field) : image ? imageControl(op, field) : control(op, field));
      if (field.name === "lora_model") label.append(el("span", undefined, "chips"));
      set.append(label);
    }
    forms.append(set);
  }
}

function select(id) {
  const op = opOf(id);
  state.op = op;
  for (const tab of $("tabs").children) tab.setAttribute("aria-selected", String(tab.dataset.op === id));
  for (const set of $("forms").children) set.hidden = set.id !== "op-" + id;
  $("api").textContent = location.origin + op.path;
  $("generate").textContent = op.role === "reload" ? "Reload model" : "Generate";
  if (location.hash !== "#" + op.tab) history.replaceState(null, "", "#" + op.tab);
}

// The LoRAs of the chosen model's family; one whose file does not tell its family is offered for every model.
function showLoras(op) {
  const chips = box(op).querySelector(".chips");
  if (!chips) return;
  const families = state.held.families || {models: {}, loras: {}};
  const model = box(op).querySelector("[name=model_id]").value;
  const family = (families.models || {})[model];
  const fits = (id) => {
    const its = (families.loras || {})[id];
    return its === null || its === undefined || family === null || family === undefined || its === family;
  };
  chips.replaceChildren();
  const offered = (state.held.loras || []).filter(fits);
  for (const id of offered) {
    const add = el("button", "+ " + id); add.type = "button"; add.dataset.lora = id;
    add.title = (families.loras || {})[id] ? "made for " + families.loras[id] : "its file does not say its family";
    add.addEventListener("click", () => {
      const lora = box(op).querySelector("[name=lora_model]");
      const ids = lora.value.split(",").map((s) => s.trim()).filter(Boolean);
      if (!ids.includes(id)) ids.push(id);
      lora.value = ids.join(",");
    });
    chips.append(add);
  }
  if (!offered.length) chips.append(el("span", "no LoRA of this model's family (" + (family || "unknown") + ")", "none"));
}

async function loadAssets() {
  const held = state.held = await (await fetch("/models")).json();
  const families = held.families || {models: {}, loras: {}};
  for (const kind of ["models", "loras", "vaes"]) {
    const list = $(kind), datalist = el("datalist");
    datalist.id = "list-" + kind;
    list.replaceChildren();
    for (const id of held[kind] || []) {
      const family = (families[kind] || {})[id];
      list.append(el("li", id + (family ? " (" + family + ")" : "")));
      datalist.append(new Option(id));
    }
    if (!(held[kind] || []).length) list.append(el("li", "(none)"));
    document.body.append(datalist);
  }
  for (const op of CONFIG.operations) {
    const picker = box(op).querySelector("select[name=model_id]");
    if (!picker) continue;
    for (const id of held.models || []) {
      const family = (families.models || {})[id];
      picker.append(new Option(family ? id + " (" + family + ")" : id, id));
    }
    showLoras(op);
  }
}

function body(op) {
  const sent = {};
  for (const input of box(op).querySelectorAll("[name]")) {
    const upload = uploads[op.id + " " + input.name];
    if (upload) { sent[input.name] = upload; continue; }
    if (input.value === "") continue;
    sent[input.name] = input.dataset.json ? JSON.parse(input.value)
      : input.dataset.number ? Number(input.value) : input.value.trim();
  }
  if (op.mask && masks[op.id] && masks[op.id].drawn) sent[op.mask] = masks[op.id].dataUrl();
  return sent;
}

function useAsInput(url, target) {
  const op = opOf(target);
  select(target);
  const wrap = box(op).querySelector(".image-field");
  wrap.setImage(url);
}

function show(op, status, answer, history, started, firstEta) {
  $("result-of").textContent = "(" + op.tab + ")";
  const problems = Array.isArray(answer.errors) ? answer.errors : [];
  $("state").textContent = "HTTP " + status + ": " + history.join(" -> ");
  // the message once: the errors list says the same thing field by field when there is one
  $("message").textContent = problems.length ? "" : (answer.message || "");
  $("answer").textContent = JSON.stringify(answer, null, 2);
  const bar = $("progress");
  if (answer.status === "processing") {
    const elapsed = (Date.now() - started) / 1000, eta = Number(answer.eta) || 0;
    bar.hidden = false;
    bar.value = firstEta > 0 ? Math.min(elapsed / (elapsed + eta), 0.99) : 0;
  } else {
    bar.hidden = answer.status !== "success"; bar.value = 1;
  }
  const errors = $("errors"); errors.replaceChildren();
  for (const p of problems) errors.append(el("li", (p.field ? p.field + ": " : "") + (p.message || p.rule)));
  const images = $("images"); images.replaceChildren();
  if (answer.status !== "success") return;
  const inputs = CONFIG.operations.filter((o) => o.role === "generate" && initField(o));
  for (const item of answer.output || []) {
    const src = String(item).startsWith("http") ? item : "data:image/png;base64," + item;
    const figure = el("figure"), img = el("img"), caption = el("figcaption");
    img.alt = "generated image"; img.src = src;
    for (const target of inputs) {
      const use = el("button", "use in " + target.tab); use.type = "button"; use.dataset.useIn = target.tab;
      use.addEventListener("click", () => useAsInput(src, target.id));
      caption.append(use);
    }
    figure.append(img, caption);
    images.append(figure);
  }
}

async function post(url, payload, headers) {
  const response = await fetch(url, {method: "POST", body: JSON.stringify(payload),
    headers: Object.assign({"Content-Type": "application/json"}, headers || {})});
  return [response.status, await response.json().catch(() => ({status: "error", message: "the answer is not JSON"}))];
}

const pause = (answer) => new Promise((done) =>
  setTimeout(done, 1000 * Math.min(Math.max(Number(answer.eta) || 1, 0.5), 2)));

$("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const op = state.op, sent = body(op), started = Date.now(), history = [];
  if (op.mask && !sent[op.mask]) {
    const field = initField(op);
    show(op, 0, {status: "error", message: sent[field] ? "draw the mask on the image first (" + op.mask + ")"
      : "choose an image first (" + field + "), then draw the mask on it"}, ["not sent"], started, 0);
    return;
  }
  for (const id of ["message", "errors", "images"]) $(id).replaceChildren();  // the last result is gone at once
  $("state").textContent = "sending " + op.tab + "..."; $("answer").textContent = ""; $("progress").hidden = true;
  const note = (answer) => history.push(answer.status === "processing" ? "processing (eta " + answer.eta + " s)"
    : String(answer.status));
  const prefer = $("async").checked ? {"Prefer": "respond-async"} : {};
  let [status, answer] = await post(op.path, sent, prefer);
  const firstEta = Number(answer.eta) || 0;
  note(answer); show(op, status, answer, history, started, firstEta);
  // a generation is fetched at fetch_result; a model_reload is asked again, as the spec says
  while (answer.status === "processing" && (answer.fetch_result || op.role === "reload")) {
    await pause(answer);
    [status, answer] = answer.fetch_result ? await post(answer.fetch_result, {key: sent.key})
      : await post(op.path, sent, prefer);
    if (answer.status !== "processing" || history[history.length - 1].indexOf("processing") !== 0) note(answer);
    else history[history.length - 1] = "processing (eta " + answer.eta + " s)";
    show(op, status, answer, history, started, firstEta);
  }
});

buildForms();
select((opOf(location.hash.slice(1)) || CONFIG.operations.find((op) => op.tab === location.hash.slice(1))
        || CONFIG.operations[0]).id);
loadAssets();
