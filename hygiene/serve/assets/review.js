// The report's review views in the app: the edits the report makes (editedPlan() of report.js)
// go to the app for a dry run, are applied after a typed confirmation, and can be undone. The
// app checks the plan as untrusted input and runs hygiene's own apply and undo.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let planName = "";

  async function post(step, body) {
    const response = await fetch(`/api/plan/${step}`, {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(answer.error || response.statusText);
    return answer;
  }

  function show(answer, verb) {
    const rows = $("consequence-table").tBodies[0];
    rows.replaceChildren();
    for (const kind of ["done", "skipped", "failed"]) {
      for (const row of answer[kind]) {
        const tr = document.createElement("tr");
        tr.className = kind;
        for (const text of [row.path, row.what, kind === "done" ? verb : kind]) {
          const td = document.createElement("td");
          td.textContent = text;
          tr.append(td);
        }
        rows.append(tr);
      }
    }
    $("consequence-status").textContent =
      `${answer.done.length} ${verb}, ${answer.skipped.length} skipped, ${answer.failed.length} failed`;
  }

  function fail(error) { $("consequence-status").textContent = error.message; }

  $("dry-run").addEventListener("click", async () => {
    try {
      const answer = await post("dry-run", { plan: editedPlan() });  // editedPlan: report.js
      planName = answer.plan;
      show(answer, "would be done");
      $("confirm-step").hidden = answer.done.length === 0;
      $("undo").hidden = true;
      document.body.dataset.review = "dry-run";
    } catch (error) { fail(error); }
  });
  $("apply").addEventListener("click", async () => {
    if ($("confirm").value.trim().toLowerCase() !== "apply") {  // the app checks it again
      $("consequence-status").textContent = 'type "apply" to confirm';
      return;
    }
    try {
      const answer = await post("apply", { plan: planName, confirm: $("confirm").value });
      show(answer, "done");
      $("confirm-step").hidden = true;
      $("confirm").value = "";
      $("undo").hidden = false;
      document.body.dataset.review = "applied";
    } catch (error) { fail(error); }
  });
  $("undo").addEventListener("click", async () => {
    try {
      const answer = await post("undo", { plan: planName });
      show(answer, "put back");
      $("undo").hidden = true;
      document.body.dataset.review = "undone";
    } catch (error) { fail(error); }
  });
})();
