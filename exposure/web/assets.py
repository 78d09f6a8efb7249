"""The page's stylesheet, its small script and its icon, served by the app itself (no CDN)."""

# A magnet-like horseshoe in the page's accent colour: drawn here, nothing downloaded.
FAVICON = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect width="32" height="32" rx="6" fill="#1d2730"/>
<path d="M9 6v10a7 7 0 0 0 14 0V6h-5v10a2 2 0 0 1-4 0V6z" fill="#1f6f8b"/>
<path d="M9 6h5v4H9zM18 6h5v4h-5z" fill="#e8eef2"/>
</svg>
"""

CSS = """
:root { --ink: #1d2730; --muted: #5d6b78; --line: #d8dee4; --accent: #1f6f8b;
  --bad: #b5423c; --bad-bg: #fbe9e7; --warn-bg: #fff6d6; --ok: #2f7d32; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  margin: 0; line-height: 1.45; background: #f7f9fa; }
header { background: var(--ink); color: #fff; padding: 0.8rem 1.5rem; }
header a { color: #fff; text-decoration: none; font-weight: 600; }
main { max-width: 60rem; margin: 1.5rem auto; padding: 0 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: 0.2rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 0.6rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1.2rem;
  margin-bottom: 1rem; }
.drop { border: 2px dashed var(--line); border-radius: 8px; padding: 1.5rem; text-align: center;
  background: #fbfcfd; }
.drop.over { border-color: var(--accent); background: #eef6f9; }
.drop input[type=file] { margin-top: 0.6rem; }
fieldset { border: 0; padding: 0; margin: 1rem 0; }
legend { font-weight: 600; margin-bottom: 0.3rem; }
label { display: block; margin: 0.25rem 0; }
.muted { color: var(--muted); font-size: 0.92rem; }
.button, button { display: inline-block; background: var(--accent); color: #fff; border: 0;
  border-radius: 6px; padding: 0.6rem 1.2rem; font-size: 1rem; cursor: pointer;
  text-decoration: none; }
.button.secondary { background: #fff; color: var(--accent); border: 1px solid var(--accent); }
button[disabled] { opacity: 0.6; cursor: wait; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); gap: 0.8rem; }
.kpi { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 0.8rem; }
.kpi .value { font-size: 1.35rem; font-weight: 700; }
.kpi .name { color: var(--muted); font-size: 0.88rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border: 1px solid var(--line); padding: 0.4rem 0.55rem; text-align: left;
  vertical-align: top; font-size: 0.93rem; }
th { background: #eef1f4; }
tr.error td.severity { color: var(--bad); font-weight: 600; }
tr.warning td.severity { color: #8a6d00; }
.alert { border-left: 4px solid var(--bad); background: var(--bad-bg); padding: 0.8rem 1rem;
  border-radius: 4px; margin-bottom: 1rem; }
.notice { border-left: 4px solid var(--accent); background: #eef6f9; padding: 0.8rem 1rem;
  border-radius: 4px; margin-bottom: 1rem; }
.progress { height: 8px; background: #e3e8ec; border-radius: 4px; overflow: hidden; }
.progress span { display: block; height: 100%; width: 40%; background: var(--accent);
  animation: slide 1.4s ease-in-out infinite; }
@keyframes slide { 0% { margin-left: -40%; } 100% { margin-left: 100%; } }
.chart { display: block; width: 100%; max-width: 40rem; height: auto; background: #fff; }
.small-multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr));
  gap: 0.8rem 1.2rem; }
.small-multiples figure { margin: 0; }
.small-multiples h3 { font-size: 1rem; margin: 0.2rem 0; }
.sign-out { text-align: right; }
ul.sentences li { margin-bottom: 0.4rem; }
code { background: #eef1f4; padding: 0 0.25rem; border-radius: 3px; }
"""

JS = """
(function () {
  "use strict";
  var drop = document.getElementById("drop");
  var input = document.getElementById("workbook");
  var form = document.getElementById("upload");
  var chosen = document.getElementById("chosen");
  function show(files) {
    if (chosen && files && files.length) { chosen.textContent = "Chosen: " + files[0].name; }
  }
  if (drop && input) {
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (event) {
        event.preventDefault(); drop.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function (event) {
        event.preventDefault(); drop.classList.remove("over");
      });
    });
    drop.addEventListener("drop", function (event) {
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files; show(input.files);
      }
    });
    input.addEventListener("change", function () { show(input.files); });
  }
  if (form) {
    form.addEventListener("submit", function (event) {
      var limit = parseInt(form.getAttribute("data-max-bytes"), 10);
      var file = input && input.files && input.files[0];
      var warning = document.getElementById("client-warning");
      if (!file) {
        event.preventDefault();
        warning.textContent = "Choose a workbook (.xlsx) first, or drop it on the box.";
        return;
      }
      if (limit && file.size > limit) {
        event.preventDefault();
        warning.textContent = "That file is larger than the " +
          Math.round(limit / 1048576) + " MB this server accepts.";
        return;
      }
      // A copy of the options in the address: if the server refuses the file before
      // it has read the form's own fields, it can still show the options chosen.
      var query = new URLSearchParams();
      var objective = form.querySelector("input[name=objective]:checked");
      var scenarios = form.querySelector("input[name=scenarios]");
      if (objective) { query.set("objective", objective.value); }
      if (scenarios && scenarios.checked) { query.set("scenarios", "1"); }
      form.setAttribute("action", "/jobs?" + query.toString());
      var button = document.getElementById("run");
      if (button) { button.disabled = true; button.textContent = "Uploading…"; }
    });
  }
  var job = document.querySelector("[data-job-status]");
  if (job) {
    var url = job.getAttribute("data-status-url");
    var poll = function () {
      fetch(url, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) { window.location.reload(); return null; }
          return response.json();
        })
        .then(function (state) {
          if (!state) { return; }
          if (["done", "invalid", "failed"].indexOf(state.status) >= 0) {
            window.location.reload(); return;
          }
          var stage = document.getElementById("stage");
          var elapsed = document.getElementById("elapsed");
          var queue = document.getElementById("queue");
          if (queue) {
            var place = state.queue_position;
            queue.hidden = !place;
            if (place === 1) {
              queue.textContent = "Waiting in the queue: yours is the next job to start.";
            } else if (place) {
              queue.textContent = "Waiting in the queue: position " + place + " (" +
                (place - 1) + " job(s) ahead of yours).";
            }
          }
          if (stage) { stage.textContent = state.stage; }
          if (elapsed) { elapsed.textContent = Math.round(state.elapsed) + " s"; }
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    window.setTimeout(poll, 1000);
  }
})();
"""
