// hygiene report: a static page. Every string from the archive is set with textContent.
"use strict";

const DATA = window.HYGIENE_DATA;
const META = DATA.meta[0];
// statuses whose pixels decoded completely (see records.READABLE)
const READABLE = new Set(["ok", "damaged"]);
const PAGE = 24;
const state = { tab: "Overview", page: {}, decisions: {}, categories: {} };
let images = [];
let byPath = new Map();

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "text") node.textContent = value;
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}
const svg = (tag, attrs) => {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
};
const bytes = (n) => { const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0; n = Number(n) || 0;
  while (n >= 1024 && i < 4) { n /= 1024; i++; } return `${n.toFixed(i ? 1 : 0)} ${u[i]}`; };

function loadChunks(done) {
  let next = 0;
  const load = () => {
    if (next >= META.chunks) { images = [].concat(...(DATA.images || [])); done(); return; }
    const script = document.createElement("script");
    script.src = `data/images-${next++}.js`;
    script.onload = load;
    document.head.append(script);
  };
  load();
}

function thumb(row) {
  if (!row || !READABLE.has(row.status) || !row.sha256) return el("div", { class: "nothumb", text: "no preview" });
  return el("img", { src: `thumbs/${row.sha256}.webp`, loading: "lazy", alt: "" });
}

function barChart(title, entries) {
  const width = 320, bar = 18, height = entries.length * (bar + 4) + 4;
  const max = Math.max(1, ...entries.map((e) => e[1]));
  const chart = svg("svg", { width, height, role: "img" });
  entries.forEach(([label, value, shown], i) => {
    const y = 4 + i * (bar + 4);
    chart.append(svg("rect", { x: 120, y, width: Math.max(1, (value / max) * 150), height: bar, fill: "#4c6ef5" }));
    const name = svg("text", { x: 116, y: y + 13, "text-anchor": "end" }); name.textContent = label; chart.append(name);
    const count = svg("text", { x: 124 + (value / max) * 150, y: y + 13 }); count.textContent = shown ?? String(value); chart.append(count);
  });
  return el("div", { class: "chart" }, el("h3", { text: title }), chart);
}

function counter(rows, key) {
  const counts = new Map();
  for (const row of rows) if (row[key] !== "" && row[key] !== undefined) counts.set(row[key], (counts.get(row[key]) || 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]);
}

function overview(main) {
  const ok = images.filter((r) => READABLE.has(r.status));
  const removable = META.plan.actions.filter((a) => a.kind === "delete" || a.kind === "quarantine");
  const groups = new Set(META.duplicates.map((d) => d.group));
  const stat = (label, value, id) => el("div", { class: "stat", "data-stat": id }, el("b", { text: String(value) }), label);
  main.append(el("div", { class: "stats" },
    stat("files scanned", images.length, "files"),
    stat("readable", ok.length, "ok"),
    stat("damaged but complete (repairable)", images.filter((r) => r.status === "damaged").length, "damaged"),
    stat("corrupt", images.filter((r) => r.status === "corrupt").length, "corrupt"),
    stat("not checked (unverified)", images.filter((r) => r.status === "unverified").length, "unverified"),
    stat("skipped", images.filter((r) => r.status === "skipped").length, "skipped"),
    stat("duplicate groups", groups.size, "groups"),
    stat("duplicate copies", META.duplicates.filter((d) => d.keeper === "false").length, "copies"),
    stat("space the plan reclaims", bytes(removable.reduce((s, a) => s + a.fingerprint.size_bytes, 0)), "reclaim"),
    stat("dark", ok.filter((r) => r.dark === "true").length, "dark"),
    stat("bright", ok.filter((r) => r.bright === "true").length, "bright"),
    stat("blurry", ok.filter((r) => r.blurry === "true").length, "blurry")));
  const confidence = new Array(10).fill(0);
  for (const row of ok) if (row.confidence !== "") confidence[Math.min(9, Math.floor(Number(row.confidence) * 10))]++;
  const byAction = new Map();
  for (const row of images) byAction.set(row.action || "keep", (byAction.get(row.action || "keep") || 0) + Number(row.size_bytes || 0));
  // Without categories, two empty charts would say nothing: say why instead, and the fix.
  const categorized = META.categoryNames.length
    ? [barChart("categories", counter(ok, "category")),
      barChart("confidence", confidence.map((n, i) => [`${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)}`, n]))]
    : [el("div", { class: "chart notice", "data-notice": "categories" }, el("h3", { text: "categories" }),
      el("p", { text: `Categorization did not run: ${META.run.categorization.status}` }))];
  main.append(el("div", { class: "charts" },
    barChart("files by status", counter(images, "status")),
    ...categorized,
    barChart("bytes by action", [...byAction.entries()].map(([k, v]) => [k, v, bytes(v)]))));
}

function pager(key, total, render) {
  const pages = Math.max(1, Math.ceil(total / PAGE));
  const page = Math.min(state.page[key] || 0, pages - 1);
  const box = el("div", { class: "pager" });
  const go = (p) => { state.page[key] = p; render(); };
  box.append(el("button", { type: "button", text: "‹ previous", on: { click: () => go(Math.max(0, page - 1)) } }),
    el("span", { text: ` page ${page + 1} of ${pages} ` }),
    el("button", { type: "button", text: "next ›", on: { click: () => go(Math.min(pages - 1, page + 1)) } }));
  return [box, page * PAGE, page * PAGE + PAGE];
}

function decision(path, fallback) { return state.decisions[path] || fallback; }

// The plan records the protected folders (relative prefixes, "" = the whole archive):
// nothing in them can be marked for removal here, and `hygiene apply` refuses it anyway.
const PROTECTED = (META.plan.header.protected_roots || []);
function isProtected(path) {
  return PROTECTED.some((p) => p === "" || path === p || path.startsWith(p + "/"));
}

function duplicatesTab(main) {
  const groups = new Map();
  for (const row of META.duplicates) { if (!groups.has(row.group)) groups.set(row.group, []); groups.get(row.group).push(row); }
  const list = [...groups.entries()];
  const [box, from, to] = pager("dups", list.length, render);
  main.append(box);
  for (const [id, members] of list.slice(from, to)) {
    const group = el("section", { class: "group", "data-group": id });
    group.append(el("h3", { text: `Group ${id} · ${members[0].kind}` }), el("p", { class: "why", text: members[0].rationale }));
    group.append(el("button", { type: "button", text: "keep all", on: { click: () => { for (const m of members) state.decisions[m.path] = "keep"; render(); } } }));
    const cards = el("div", { class: "cards" });
    for (const member of members) {
      const row = byPath.get(member.path) || {};
      const kept = decision(member.path, member.keeper === "true" ? "keep" : "remove") === "keep";
      const card = el("div", { class: `card ${member.reason === "kept" ? "keeper" : ""} ${kept ? "" : "remove"}`, "data-path": member.path },
        thumb(row), el("div", { class: "path", text: member.path }),
        el("div", { text: `${row.width || "?"}×${row.height || "?"} · ${bytes(member.size_bytes)} · ${row.taken_at || "no date"}` }),
        el("div", { text: `distance ${member.distance} · ${member.reason}` }),
        member.reason === "kept" ? el("div", { text: "keeper (never removed)" }) :
        isProtected(member.path) ? el("div", { class: "protected", text: "in a protected folder (never removed)" }) :
          el("button", { type: "button", class: "toggle", text: kept ? "kept: remove instead" : "removed: keep instead",
            on: { click: () => { state.decisions[member.path] = kept ? "remove" : "keep"; render(); } } }));
      cards.append(card);
    }
    group.append(cards);
    main.append(group);
  }
}

function similarTab(main) {
  const clusters = new Map();
  for (const row of META.similar) { if (!clusters.has(row.cluster)) clusters.set(row.cluster, []); clusters.get(row.cluster).push(row); }
  for (const [id, members] of clusters) {
    const cards = el("div", { class: "cards" });
    for (const m of members) cards.append(el("div", { class: "card" }, thumb(byPath.get(m.path)), el("div", { class: "path", text: m.path }), el("div", { text: m.taken_at || "no date" })));
    main.append(el("section", { class: "group" }, el("h3", { text: `Similar shots ${id}` }), cards));
  }
  if (!clusters.size) main.append(el("p", { text: "No similar shots." }));
}

function corruptTab(main) {
  const listing = (status) => {
    const table = el("table", { "data-status": status }, el("tr", {}, el("th", { text: "file" }), el("th", { text: "error" })));
    for (const row of images.filter((r) => r.status === status)) table.append(el("tr", {}, el("td", { text: row.path }), el("td", { text: row.error })));
    return table;
  };
  main.append(listing("corrupt"));
  if (images.some((r) => r.status === "damaged")) {
    main.append(el("h3", { text: "Damaged but complete: every pixel is there; the plan repairs them, never removes them" }), listing("damaged"));
  }
  if (images.some((r) => r.status === "unverified")) {
    main.append(el("h3", { text: "Not checked (unverified): never removed, tried again on the next run" }), listing("unverified"));
  }
}

function gallery(main, title, rows, score) {
  const cards = el("div", { class: "cards" });
  for (const row of rows.slice(0, 48)) cards.append(el("div", { class: "card" }, thumb(row), el("div", { class: "path", text: row.path }), el("div", { text: score(row) })));
  main.append(el("section", { class: "group" }, el("h3", { text: title }), cards));
}

function qualityTab(main) {
  const ok = images.filter((r) => READABLE.has(r.status));
  gallery(main, "Darkest", [...ok].sort((a, b) => a.brightness - b.brightness), (r) => `brightness ${r.brightness}${r.dark === "true" ? " · dark" : ""}`);
  gallery(main, "Brightest", [...ok].sort((a, b) => b.brightness - a.brightness), (r) => `brightness ${r.brightness}${r.bright === "true" ? " · bright" : ""}`);
  gallery(main, "Blurriest", [...ok].sort((a, b) => b.blur - a.blur), (r) => `blur ${r.blur}${r.blurry === "true" ? " · blurry" : ""}`);
}

function categoriesTab(main) {
  const names = META.categoryNames;
  if (!names.length) { main.append(el("p", { text: `Categorization did not run: ${META.run.categorization.status}` })); return; }
  const groups = new Map([["_Review", []], ...names.map((n) => [n, []])]);
  for (const row of images) if (row.category) (groups.get(row.category) || groups.get("_Review")).push(row);
  for (const [name, rows] of groups) {
    if (!rows.length) continue;
    rows.sort((a, b) => b.confidence - a.confidence);
    const cards = el("div", { class: "cards" });
    for (const row of rows.slice(0, 48)) {
      const select = el("select", { on: { change: (e) => { state.categories[row.path] = e.target.value; } } });
      for (const option of names) select.append(el("option", { value: option, text: option }));
      select.value = state.categories[row.path] || (row.category === "_Review" ? names[0] : row.category);
      cards.append(el("div", { class: "card" }, thumb(row), el("div", { class: "path", text: row.path }),
        el("div", { text: `confidence ${row.confidence} · margin ${row.margin}${row.review ? " · " + row.review : ""}` }), select));
    }
    main.append(el("section", { class: "group" }, el("h3", { text: `${name} (${rows.length})` }), cards));
  }
}

function mapTab(main) {
  if (!META.map.length) { main.append(el("p", { text: "No embeddings: categorization did not run." })); return; }
  const names = [...new Set(images.map((r) => r.category).filter(Boolean))];
  const colours = names.map((_, i) => `hsl(${(i * 360) / Math.max(1, names.length)},65%,45%)`);
  const plot = svg("svg", { width: 640, height: 480, class: "map" });
  const tooltip = document.getElementById("tooltip");
  for (const [path, x, y] of META.map) {
    const row = byPath.get(path) || {};
    const dot = svg("circle", { cx: 10 + x * 620, cy: 10 + y * 460, r: 5, fill: colours[names.indexOf(row.category)] || "#888" });
    dot.addEventListener("mouseenter", (e) => { tooltip.hidden = false; tooltip.querySelector("img").src = `thumbs/${row.sha256}.webp`;
      tooltip.querySelector("span").textContent = `${path} · ${row.category}`; tooltip.style.left = `${e.clientX + 12}px`; tooltip.style.top = `${e.clientY + 12}px`; });
    dot.addEventListener("mouseleave", () => { tooltip.hidden = true; });
    plot.append(dot);
  }
  main.append(el("div", { class: "chart" }, el("h3", { text: `CLIP embeddings (${META.mapMethod || "2 principal components"}), coloured by category` }), plot));
}

const TABS = { Overview: overview, Duplicates: duplicatesTab, "Similar shots": similarTab, Corrupt: corruptTab, Quality: qualityTab, Categories: categoriesTab, Map: mapTab };

function render() {
  const nav = document.getElementById("tabs");
  nav.replaceChildren(...Object.keys(TABS).map((name) => el("button", { type: "button", class: name === state.tab ? "active" : "",
    text: name, on: { click: () => { state.tab = name; render(); } } })));
  const main = document.getElementById("main");
  main.replaceChildren();
  TABS[state.tab](main);
}

function editedPlan() {
  const plan = JSON.parse(JSON.stringify(META.plan));
  const policy = plan.header.policy;
  const keeperOf = new Map();
  for (const row of META.duplicates) if (row.reason === "kept") keeperOf.set(row.group, row.path);
  // mtime_ns stays a string: nanoseconds are beyond JavaScript's exact integers.
  const fingerprint = (row) => ({ size_bytes: Number(row.size_bytes), mtime_ns: row.mtime_ns, sha256: row.sha256 });
  const actions = plan.actions.filter((a) => !(a.kind === "delete" && state.decisions[a.source] === "keep"));
  const present = new Set(actions.filter((a) => a.kind === "delete").map((a) => a.source));
  for (const member of META.duplicates) {
    if (state.decisions[member.path] !== "remove" || present.has(member.path)) continue;
    const keeper = keeperOf.get(member.group);
    if (!keeper || keeper === member.path) continue;  // never remove a group's keeper
    if (isProtected(member.path)) continue;
    const row = byPath.get(member.path);
    const review = actions.findIndex((a) => a.source === member.path);
    if (review >= 0) actions.splice(review, 1);
    actions.push({ id: 0, kind: "delete", source: member.path, destination: `${policy.quarantine_dir}/${member.path}`,
      reason: "removed in the report", fingerprint: fingerprint(row), dup_kind: member.kind,
      keeper, keeper_fingerprint: fingerprint(byPath.get(keeper)) });
  }
  for (const action of actions) {
    const category = state.categories[action.source];
    if (category && (action.kind === "move" || action.kind === "copy") && policy.sort_into) {
      const rest = action.destination.slice(policy.sort_into.length + 1).split("/").slice(1).join("/");
      action.destination = `${policy.sort_into}/${category}/${rest}`;
    }
  }
  actions.forEach((a, i) => { a.id = i + 1; });
  plan.actions = actions;
  return plan;
}

function exportPlan() {
  const blob = new Blob([JSON.stringify(editedPlan(), null, 1)], { type: "application/json" });
  const link = el("a", { href: URL.createObjectURL(blob), download: "plan.json" });
  document.body.append(link);
  link.click();
  link.remove();
}

loadChunks(() => {
  byPath = new Map(images.map((row) => [row.path, row]));
  document.getElementById("subtitle").textContent = `${META.run.root} · run ${META.run.run_id}`;
  document.getElementById("export").addEventListener("click", exportPlan);
  render();
});
