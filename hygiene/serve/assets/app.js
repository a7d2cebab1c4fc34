// The local app's page: search by phrase or dropped image, "more like this", and the 3D cluster
// cloud (three.js, vendored in this folder). Every request goes to this app's own origin; the
// token travels as the cookie the first page load set.
import * as THREE from "/assets/three.module.js";

const $ = (id) => document.getElementById(id);
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
  "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
const colourOf = new Map();

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok && response.status !== 202) throw new Error(body.error || response.statusText);
  return { status: response.status, body };
}

function say(text) { $("status").textContent = text; }

function showResults(found, what) {
  const list = $("results");
  list.replaceChildren();
  for (const hit of found.results) {
    const item = document.createElement("li");
    item.dataset.id = hit.id;
    item.dataset.path = hit.path;
    if (hit.thumb) {
      const image = document.createElement("img");
      image.src = hit.thumb;
      image.alt = hit.path;
      image.loading = "lazy";
      item.append(image);
    }
    const score = document.createElement("div");
    score.className = "score";
    score.textContent = `${hit.rank}. ${hit.score.toFixed(3)}`;
    const path = document.createElement("div");
    path.className = "path";
    path.textContent = hit.path;
    item.append(score, path);
    item.addEventListener("click", () => openPhoto(hit.id));
    list.append(item);
  }
  const more = found.under_floor ? `; ${found.under_floor} more under the similarity floor` : "";
  say(`${found.results.length} result${found.results.length === 1 ? "" : "s"} for ${what}${more}`);
}

function filterQuery() {
  const category = $("category").value;
  return category ? `&category=${encodeURIComponent(category)}` : "";
}

async function searchText(phrase) {
  say("searching…");
  try {
    const { body } = await api(`/api/search?q=${encodeURIComponent(phrase)}${filterQuery()}`);
    showResults(body, `“${phrase}”`);
  } catch (error) { say(error.message); }
}

async function searchImage(file) {
  say(`searching by ${file.name}…`);
  try {
    const { body } = await api(`/api/search/image?top=24${filterQuery()}`,
      { method: "POST", body: file, headers: { "content-type": "application/octet-stream" } });
    showResults(body, file.name);
  } catch (error) { say(error.message); }
}

async function moreLike(id, path) {
  say("searching…");
  try {
    const { body } = await api(`/api/like/${id}?top=24${filterQuery()}`);
    showResults(body, `photos like ${path}`);
  } catch (error) { say(error.message); }
}

async function openPhoto(id) {
  const { body } = await api(`/api/photo/${id}`);
  const panel = $("panel");
  panel.dataset.id = id;
  panel.dataset.path = body.path;
  $("panel-image").src = body.photo;
  $("panel-image").alt = body.path;
  const facts = $("panel-facts");
  facts.replaceChildren();
  for (const [name, value] of [["path", body.path], ["category", body.category],
    ["taken", body.taken_at || "unknown"], ["copies", body.copies]]) {
    const term = document.createElement("dt");
    term.textContent = name;
    const detail = document.createElement("dd");
    detail.textContent = value;
    facts.append(term, detail);
  }
  $("panel-like").onclick = () => moreLike(id, body.path);
  panel.hidden = false;
}

// ------------------------------------------------------------------ the cloud

function drawCloud(data) {
  const box = $("cloud");
  const width = box.clientWidth, height = box.clientHeight;
  const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(window.devicePixelRatio);
  renderer.setSize(width, height);
  box.prepend(renderer.domElement);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color("#1b1f27");
  const camera = new THREE.PerspectiveCamera(50, width / height, 0.01, 100);
  const positions = new Float32Array(data.positions.flat());
  const colours = new Float32Array(positions.length);
  const colour = new THREE.Color();
  data.photos.forEach((photo, i) => {
    if (!colourOf.has(photo.category)) colourOf.set(photo.category, PALETTE[colourOf.size % PALETTE.length]);
    colour.set(colourOf.get(photo.category));
    colours.set([colour.r, colour.g, colour.b], 3 * i);
  });
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute("position", new THREE.BufferAttribute(positions, 3));
  geometry.setAttribute("color", new THREE.BufferAttribute(colours, 3));
  const size = data.photos.length > 20000 ? 0.012 : data.photos.length > 2000 ? 0.03 : 0.06;
  const points = new THREE.Points(geometry, new THREE.PointsMaterial({ size, vertexColors: true }));
  scene.add(points);

  // orbit: drag turns the camera around the centre, the wheel moves it closer or further
  const orbit = { radius: 3.2, theta: 0.6, phi: 1.2 };
  function place() {
    camera.position.setFromSphericalCoords(orbit.radius, orbit.phi, orbit.theta);
    camera.lookAt(0, 0, 0);
    renderer.render(scene, camera);
  }
  let dragging = null, moved = false;
  box.addEventListener("pointerdown", (event) => { dragging = [event.clientX, event.clientY]; moved = false; });
  window.addEventListener("pointerup", () => { dragging = null; });
  box.addEventListener("pointermove", (event) => {
    if (dragging) {
      const dx = event.clientX - dragging[0], dy = event.clientY - dragging[1];
      if (Math.abs(dx) + Math.abs(dy) > 2) moved = true;
      orbit.theta -= dx * 0.01;
      orbit.phi = Math.min(Math.PI - 0.05, Math.max(0.05, orbit.phi - dy * 0.01));
      dragging = [event.clientX, event.clientY];
      place();
      return;
    }
    const hit = pick(event);
    const tip = $("tooltip");
    tip.hidden = hit === null;
    if (hit !== null) {
      tip.textContent = data.photos[hit].path;
      tip.style.left = `${event.offsetX + 12}px`;
      tip.style.top = `${event.offsetY + 12}px`;
    }
  });
  box.addEventListener("wheel", (event) => {
    event.preventDefault();
    orbit.radius = Math.min(20, Math.max(0.3, orbit.radius * (event.deltaY > 0 ? 1.1 : 0.9)));
    place();
  }, { passive: false });
  box.addEventListener("click", (event) => {
    if (moved) return;
    const hit = pick(event);
    if (hit !== null) openPhoto(data.photos[hit].id);
  });

  const raycaster = new THREE.Raycaster();
  function pick(event) {
    const rect = renderer.domElement.getBoundingClientRect();
    const pointer = new THREE.Vector2(((event.clientX - rect.left) / rect.width) * 2 - 1,
      -((event.clientY - rect.top) / rect.height) * 2 + 1);
    raycaster.params.Points.threshold = size * orbit.radius / 3;
    raycaster.setFromCamera(pointer, camera);
    const hits = raycaster.intersectObject(points);
    if (!hits.length) return null;
    hits.sort((a, b) => a.distanceToRay - b.distanceToRay || a.distance - b.distance);
    return hits[0].index;
  }
  place();

  // what a test (or a curious user) can ask of the cloud
  window.hygieneCloud = {
    count: data.photos.length,
    method: data.method,
    screenPosition(i) {
      const rect = renderer.domElement.getBoundingClientRect();
      const point = new THREE.Vector3(...data.positions[i]).project(camera);
      return [rect.left + (point.x + 1) / 2 * rect.width, rect.top + (1 - point.y) / 2 * rect.height];
    },
    frame() { place(); },
  };
  const legend = $("legend");
  for (const [name, value] of colourOf) {
    const item = document.createElement("li");
    const dot = document.createElement("span");
    dot.style.background = value;
    item.append(dot, name || "uncategorized");
    legend.append(item);
  }
  $("cloud-note").textContent = `${data.photos.length} photos, placed by ${data.method.toUpperCase()}. ${data.note}`;
  document.body.dataset.cloud = "ready";
}

async function loadCloud() {
  try {
    for (;;) {
      const { status, body } = await api("/api/cloud");
      if (status === 200) { drawCloud(body); return; }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } catch (error) {
    $("cloud-note").textContent = error.message;
    document.body.dataset.cloud = "failed";
  }
}

// ------------------------------------------------------------------ wiring

async function start() {
  const { body } = await api("/api/info");
  $("library").textContent = `${body.photos.toLocaleString()} photos of ${body.root} · ${body.model} · ${body.index} search`;
  for (const name of body.categories) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name;
    $("category").append(option);
  }
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const phrase = $("query").value.trim();
    if (phrase) searchText(phrase);
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) searchImage(file);
  });
  $("drop-input").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) searchImage(file);
  });
  $("panel-close").addEventListener("click", () => { $("panel").hidden = true; });
  document.body.dataset.app = "ready";
  loadCloud();
}

start().catch((error) => say(error.message));
