// app.js -- the web view: reads /boardhook/api/overview and shows one row per event type.
"use strict";

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
}

async function refresh() {
  const view = document.getElementById("view");
  const answer = await fetch("api/overview", { cache: "no-store" });
  const overview = await answer.json();
  const table = document.createElement("table");
  const head = table.insertRow();
  for (const name of ["event type", "queued", "processing", "retry", "dead"]) cell(head, name);
  for (const row of overview.stats.types) {
    const tr = table.insertRow();
    for (const value of [row.type, row.queued, row.processing, row.retry, row.dead]) cell(tr, String(value));
  }
  view.replaceChildren(table);
  setTimeout(refresh, overview.refresh_seconds * 1000);
}

refresh();
