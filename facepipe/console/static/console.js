// facepipe console: fills the static pages from /api/... . Text goes in with textContent only,
// so image keys and error causes never become markup; the graph SVG comes escaped from the server.
"use strict";

const $ = (id) => document.getElementById(id);

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text == null ? "" : String(text);
  if (className) td.className = className;
  return td;
}

function duration(ms) {
  if (ms == null) return "";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

// ---- executions list ---------------------------------------------------------------------
async function refreshList() {
  const status = $("status-filter").value;
  const data = await getJson("/api/executions" + (status ? `?status=${encodeURIComponent(status)}` : ""));
  $("source-title").textContent = data.title;
  const body = $("executions").tBodies[0];
  body.replaceChildren();
  for (const item of data.executions) {
    const row = body.insertRow();
    row.dataset.arn = item.executionArn;
    row.className = `status-${item.status.toLowerCase()}`;
    cell(row, item.status, "badge");
    const link = document.createElement("a");
    link.href = `/execution?arn=${encodeURIComponent(item.executionArn)}`;
    link.textContent = item.imageKey;
    row.insertCell().append(link);
    cell(row, item.faceCount, "faces");
    cell(row, duration(item.durationMs));
    cell(row, item.startDate ? new Date(item.startDate).toLocaleString() : "");
  }
  $("list-empty").hidden = data.executions.length > 0;
}

function say(text, ok) {
  const line = document.createElement("li");
  line.className = ok ? "ok" : "error";
  line.textContent = text;
  $("upload-messages").prepend(line);
}

async function uploadOne(file) {
  const response = await fetch("/api/uploads", {
    method: "POST",
    headers: { "X-Filename": encodeURIComponent(file.name), "Content-Type": file.type || "application/octet-stream" },
    body: file,
  });
  let body = {};
  try { body = await response.json(); } catch (_) { /* a proxy's HTML error page */ }
  if (response.ok && body.skipped) say(`${file.name}: not run again (${body.key}) — ${body.skipped}`, true);
  else if (response.ok) say(`${file.name}: uploaded as ${body.key}`, true);
  else say(`${file.name}: refused (${response.status}) — ${body.error || response.statusText}`, false);
}

async function uploadAll(files) {
  for (const file of files) await uploadOne(file);
  await refreshList();
}

function startListPage() {
  const zone = $("drop-zone");
  $("file-input").addEventListener("change", (e) => uploadAll([...e.target.files]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    uploadAll([...e.dataTransfer.files]);
  });
  $("status-filter").addEventListener("change", refreshList);
  const tick = () => refreshList().catch((err) => say(`could not load executions: ${err.message}`, false));
  tick();
  setInterval(tick, 1500);
}

// ---- one execution -----------------------------------------------------------------------
let current = null;

function pretty(text) {
  if (text == null) return "";
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return String(text); }
}

function showState(name) {
  const state = current.states[name];
  if (!state) return;
  document.querySelectorAll("#graph .state.selected").forEach((g) => g.classList.remove("selected"));
  const node = document.querySelector(`#graph .state[data-state="${CSS.escape(name)}"]`);
  if (node) node.classList.add("selected");
  $("state-name").textContent = name;
  $("state-status").textContent = state.status.replace("_", " ") + (state.retries ? ` · retried ${state.retries}×` : "");
  $("state-status").className = `badge status-${state.status}`;
  const timings = $("state-timings");
  timings.replaceChildren();
  for (const [label, value] of [["Entered", state.enteredAt], ["Exited", state.exitedAt], ["Duration", duration(state.durationMs)]]) {
    const dt = document.createElement("dt"); dt.textContent = label;
    const dd = document.createElement("dd"); dd.textContent = value || "";
    timings.append(dt, dd);
  }
  $("state-input").textContent = pretty(state.input);
  $("state-output").textContent = pretty(state.output);
  $("state-error").textContent = state.error || "";
  const failures = state.failures.map((f, i) => `attempt ${i + 1}: ${f.error}: ${f.cause}`).join("\n");
  $("state-cause").textContent = [state.cause, failures].filter(Boolean).join("\n\n");
}

function drawFaces(faces) {
  const view = $("image-view");
  view.querySelectorAll(".face-box").forEach((box) => box.remove());
  for (const face of faces) {
    // Records hold the summarised shape ({box, confidence}); Rekognition's is BoundingBox.
    const raw = face.box || face.BoundingBox || {};
    const b = { Left: raw.left ?? raw.Left, Top: raw.top ?? raw.Top, Width: raw.width ?? raw.Width, Height: raw.height ?? raw.Height };
    const box = document.createElement("div");
    box.className = "face-box";
    // Rekognition's boxes are ratios of the image size, so percentages place them exactly.
    box.style.left = `${(b.Left || 0) * 100}%`;
    box.style.top = `${(b.Top || 0) * 100}%`;
    box.style.width = `${(b.Width || 0) * 100}%`;
    box.style.height = `${(b.Height || 0) * 100}%`;
    const label = document.createElement("span");
    label.textContent = `${Number(face.confidence ?? face.Confidence ?? 0).toFixed(1)}%`;
    box.append(label);
    view.append(box);
  }
  $("face-count").textContent = `· ${faces.length} face${faces.length === 1 ? "" : "s"}`;
}

function renderHistory(events) {
  const body = $("history").tBodies[0];
  body.replaceChildren();
  for (const event of events) {
    const row = body.insertRow();
    cell(row, event.id);
    cell(row, event.type);
    cell(row, event.state);
    cell(row, event.timestamp);
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(event.details, null, 1);
    row.insertCell().append(pre);
  }
}

// ---- Map Runs (a DISTRIBUTED Map's child executions) ---------------------------------------
const children = { runArn: null, express: false, tokens: [null], page: 0, running: false };
const BAR_PARTS = [["succeeded", ["succeeded"]], ["failed", ["failed", "timedOut", "aborted"]],
  ["running", ["running"]], ["pending", ["pending"]]];

function date(text) { return text ? new Date(text).toLocaleString() : ""; }

function countsLine(c) {
  const failed = (c.failed || 0) + (c.timedOut || 0) + (c.aborted || 0);
  return `${c.succeeded || 0} succeeded · ${failed} failed (${c.timedOut || 0} timed out, ${c.aborted || 0} aborted)` +
    ` · ${c.running || 0} running · ${c.pending || 0} pending · ${c.total || 0} total · ${c.resultsWritten || 0} results written`;
}

function mapRunBlock(run) {
  const block = document.createElement("div");
  block.className = `map-run status-${run.status.toLowerCase()}` + (run.mapRunArn === children.runArn ? " selected" : "");
  block.dataset.mapRun = run.mapRunArn;
  const title = document.createElement("p");
  const badge = document.createElement("span");
  badge.className = `badge status-${run.status.toLowerCase()}`;
  badge.textContent = run.status;
  const name = document.createElement("b");
  name.textContent = ` ${run.stateName || "Map"} `;
  const arn = document.createElement("span");
  arn.textContent = run.mapRunArn;
  title.append(badge, name, arn);
  const counts = run.executionCounts || {};
  const bar = document.createElement("div");
  bar.className = "map-run-bar";
  bar.title = countsLine(counts);
  for (const [part, keys] of BAR_PARTS) {
    const n = keys.reduce((sum, k) => sum + (counts[k] || 0), 0);
    if (!n || !counts.total) continue;
    const piece = document.createElement("div");
    piece.className = `bar-${part}`;
    piece.style.width = `${(100 * n) / counts.total}%`;
    bar.append(piece);
  }
  const line = document.createElement("p");
  line.className = "map-run-executions";
  line.textContent = `Child executions: ${countsLine(counts)}`;
  const items = document.createElement("p");
  items.className = "map-run-items";
  items.textContent = `Items: ${countsLine(run.itemCounts || {})}`;
  const meta = document.createElement("p");
  meta.textContent = `max concurrency ${run.maxConcurrency || "unlimited"} · tolerated failure count ${run.toleratedFailureCount}, percentage ${run.toleratedFailurePercentage}% · ` +
    `started ${date(run.startDate)}` + (run.stopDate ? ` · stopped ${date(run.stopDate)}` : "") +
    (run.redriveCount ? ` · redriven ${run.redriveCount}×` : "") + ` · ${run.childExecutionType} children`;
  const show = document.createElement("button");
  show.type = "button";
  show.textContent = "Show child executions";
  show.addEventListener("click", () => selectMapRun(run));
  block.append(title, bar, line, items, meta, show);
  return block;
}

function selectMapRun(run) {
  children.runArn = run.mapRunArn;
  children.express = run.childExecutionType === "EXPRESS";
  children.openable = run.childrenOpenable !== false;
  children.tokens = [null];
  children.page = 0;
  document.querySelectorAll(".map-run").forEach((b) => b.classList.toggle("selected", b.dataset.mapRun === run.mapRunArn));
  refreshChildren().catch(childError);
}

function childError(err) {
  $("children-note").hidden = false;
  $("children-note").textContent = `could not load the child executions: ${err.message}`;
}

async function refreshChildren() {
  if (!children.runArn) return;
  const status = $("child-status").value;
  const token = children.tokens[children.page];
  const query = new URLSearchParams({ arn: children.runArn });
  if (status) query.set("status", status);
  if (token) query.set("nextToken", token);
  const data = await getJson(`/api/map-run/executions?${query}`);
  $("children-section").hidden = false;
  $("children-of").textContent = children.runArn;
  $("children-note").hidden = !children.express;
  $("children-note").textContent = !children.express
    ? ""
    : children.openable
      ? "EXPRESS children: Step Functions keeps no history of them; each page draws the events their log group holds."
      : "EXPRESS children: Step Functions keeps their history only in CloudWatch Logs, so they cannot be opened here.";
  const body = $("children").tBodies[0];
  body.replaceChildren();
  for (const child of data.executions) {
    const row = body.insertRow();
    row.dataset.arn = child.executionArn;
    row.className = `status-${child.status.toLowerCase()}`;
    cell(row, child.status, "badge");
    if (!children.openable) cell(row, child.name);
    else {
      const link = document.createElement("a");
      link.href = `/execution?arn=${encodeURIComponent(child.executionArn)}`;
      link.textContent = child.name;
      row.insertCell().append(link);
    }
    cell(row, date(child.startDate));
    cell(row, date(child.stopDate));
    cell(row, child.startDate && child.stopDate ? duration(new Date(child.stopDate) - new Date(child.startDate)) : "");
  }
  $("children-empty").hidden = data.executions.length > 0;
  children.tokens[children.page + 1] = data.nextToken || null;
  $("children-next").disabled = !data.nextToken;
  $("children-prev").disabled = children.page === 0;
  $("children-page").textContent = `page ${children.page + 1}`;
}

function renderMapRuns(data) {
  $("exec-parent").hidden = !data.parentExecutionArn;
  if (data.parentExecutionArn) {
    $("parent-link").href = `/execution?arn=${encodeURIComponent(data.parentExecutionArn)}`;
    $("exec-map-run").textContent = `Map Run ${data.mapRunArn}`;
  }
  $("history-note").hidden = !data.historyNote;
  $("history-note").textContent = data.historyNote || "";
  const runs = data.mapRuns || [];
  $("map-runs-section").hidden = runs.length === 0;
  $("map-runs").replaceChildren(...runs.map(mapRunBlock));
  if (runs.length && !runs.some((r) => r.mapRunArn === children.runArn)) selectMapRun(runs[runs.length - 1]);
  else if (children.running) refreshChildren().catch(childError);
  children.running = runs.some((r) => r.status === "RUNNING");
}

function startChildList() {
  $("child-status").addEventListener("change", () => { children.tokens = [null]; children.page = 0; refreshChildren().catch(childError); });
  $("children-next").addEventListener("click", () => { children.page += 1; refreshChildren().catch(childError); });
  $("children-prev").addEventListener("click", () => { children.page = Math.max(0, children.page - 1); refreshChildren().catch(childError); });
}

function renderExecution(data) {
  current = data;
  const item = data.execution;
  $("source-title").textContent = data.title;
  document.title = `${item.imageKey} · facepipe console`;
  $("exec-status").textContent = item.status;
  $("exec-status").className = `badge status-${item.status.toLowerCase()}`;
  $("exec-key").textContent = item.imageKey;
  $("exec-meta").textContent = `${item.executionArn} · version ${item.versionId || "null"} · ${duration(item.durationMs)}`;
  $("exec-error").hidden = !data.error;
  $("exec-error").textContent = data.error ? `${data.error}: ${data.cause || ""}` : "";
  $("graph").innerHTML = data.graphSvg; // built and escaped server-side
  for (const node of document.querySelectorAll("#graph .state[data-state]")) {
    node.addEventListener("click", () => showState(node.dataset.state));
    node.addEventListener("keydown", (e) => { if (e.key === "Enter") showState(node.dataset.state); });
  }
  drawFaces(data.faces);
  $("record").textContent = data.record ? JSON.stringify(data.record, null, 2) : "No record stored.";
  $("email-none").hidden = !!data.email;
  $("email-subject").textContent = data.email ? data.email.subject : "";
  $("email-to").textContent = data.email ? data.email.to : "";
  $("email-body").textContent = data.email ? data.email.body : "";
  renderHistory(data.history);
  renderMapRuns(data);
  const selected = document.querySelector("#state-name").textContent;
  if (data.states[selected]) showState(selected);
}

function startExecutionPage() {
  startChildList();
  const arn = new URLSearchParams(location.search).get("arn") || "";
  const image = $("image");
  image.addEventListener("error", () => {
    image.hidden = true;
    $("image-missing").hidden = false;
  });
  image.src = `/api/image?arn=${encodeURIComponent(arn)}`;
  let timer = null;
  const tick = async () => {
    try {
      const data = await getJson(`/api/execution?arn=${encodeURIComponent(arn)}`);
      renderExecution(data);
      document.body.dataset.loaded = data.execution.status;
      const running = data.execution.status === "RUNNING" || (data.mapRuns || []).some((r) => r.status === "RUNNING");
      if (!running && timer) clearInterval(timer);
    } catch (err) {
      $("exec-error").hidden = false;
      $("exec-error").textContent = `could not load the execution: ${err.message}`;
      if (timer) clearInterval(timer);
    }
  };
  tick();
  timer = setInterval(tick, 1000);
}

if (document.body.dataset.page === "list") startListPage();
else startExecutionPage();
