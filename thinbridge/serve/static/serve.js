// thinbridge serve: the search page. Talks only to this server's /api; no libraries, no CDN.
"use strict";

const EXAMPLES = {
  text: ["HMG-CoA reductase inhibitor", "dopamine D2 receptor antagonist", "EGFR kinase inhibitor",
         "histamine H1 receptor antagonist", "serotonin transporter inhibitor"],
  smiles: [["aspirin", "CC(=O)Oc1ccccc1C(=O)O"], ["caffeine", "Cn1c(=O)c2c(ncn2C)n(C)c1=O"],
           ["atorvastatin", "CC(C)c1c(C(=O)Nc2ccccc2)c(-c2ccccc2)c(-c2ccc(F)cc2)n1CC[C@@H](O)C[C@@H](O)CC(=O)O"]],
};
const PLACEHOLDER = {text: "e.g. HMG-CoA reductase inhibitor", smiles: "e.g. CC(=O)Oc1ccccc1C(=O)O (aspirin)"};
const $ = (id) => document.getElementById(id);
const drawings = new Map();  // SMILES -> Promise of an SVG element
let info = null, current = null;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function mode() { return document.querySelector("input[name=mode]:checked").value; }

function setMode(m) {
  document.querySelector(`input[name=mode][value=${m}]`).checked = true;
  const q = $("q");
  q.placeholder = PLACEHOLDER[m];
  q.classList.toggle("smiles", m === "smiles");
  $("q-label").textContent = m === "smiles" ? "SMILES" : "Mechanism text";
  const ex = $("examples");
  ex.replaceChildren(el("span", {text: "Try:"}));
  for (const item of EXAMPLES[m]) {
    const [label, value] = Array.isArray(item) ? item : [item, item];
    const b = el("button", {type: "button", text: label, title: value});
    b.addEventListener("click", () => { q.value = value; search(); });
    ex.append(b);
  }
}

function draw(smiles) {
  if (!drawings.has(smiles)) {
    const p = fetch("api/draw?" + new URLSearchParams({smiles}))
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(r.statusText))))
      .then((text) => {
        const doc = new DOMParser().parseFromString(text, "image/svg+xml");
        const svg = doc.documentElement;
        if (svg.nodeName !== "svg") throw new Error("not an SVG");
        svg.querySelectorAll("script, foreignObject").forEach((n) => n.remove());
        return svg;
      });
    p.catch(() => drawings.delete(smiles));
    drawings.set(smiles, p);
  }
  return drawings.get(smiles);
}

function molecule(smiles, label) {
  const box = el("div", {class: "mol", role: "img", "aria-label": label});
  draw(smiles).then((svg) => box.append(document.importNode(svg, true)))
              .catch(() => box.append(el("p", {class: "smiles-text", text: "(could not draw)"})));
  return box;
}

function scoreBar(score) {
  const pct = Math.max(0, Math.min(100, Math.round(score * 100)));
  return el("div", {class: "bar", title: `cosine ${score.toFixed(3)}`}, el("span", {style: `width:${pct}%`}));
}

function moleculeCard(h) {
  const name = h.drug_name || h.id || h.molecule_chembl_id || "";
  const card = el("article", {class: "card hit"},
    el("div", {class: "head"}, el("span", {class: "rank", text: `#${h.rank}`}),
       el("span", {class: "score", text: `score ${h.score.toFixed(3)}`})),
    scoreBar(h.score),
    molecule(h.parent_smiles, `structure of ${name}`),
    el("p", {class: "name", text: name}));
  if (h.molecule_chembl_id) {
    const ids = el("p", {class: "ids"});
    const a = el("a", {href: `https://www.ebi.ac.uk/chembl/compound_report_card/${encodeURIComponent(h.molecule_chembl_id)}/`,
                       target: "_blank", rel: "noopener", text: h.molecule_chembl_id});
    ids.append(a);
    card.append(ids);
  }
  if (h.file !== undefined || h.line !== undefined) {
    card.append(el("p", {class: "ids", text: `${h.file ? h.file + ", " : ""}line ${h.line}`}));
  }
  if (h.mechanisms && h.mechanisms.length) {
    card.append(el("ul", {class: "mechs", "aria-label": "mechanisms recorded in ChEMBL"},
      ...h.mechanisms.map((m) => el("li", {text: m}))));
  }
  card.append(el("p", {class: "smiles-text", text: h.smiles && h.smiles !== h.parent_smiles
    ? `${h.smiles} (parent ${h.parent_smiles})` : h.parent_smiles}));
  if (!info || info.smiles_queries) {
    card.append(follow("What does this molecule do? →", "smiles", h.parent_smiles));
  }
  return card;
}

function follow(label, m, value) {
  const b = el("button", {type: "button", class: "follow", text: label});
  b.addEventListener("click", () => { setMode(m); $("q").value = value; search(); window.scrollTo(0, 0); });
  return b;
}

function textCard(h) {
  return el("article", {class: "card text-card hit"},
    el("div", {class: "head"}, el("span", {class: "rank", text: `#${h.rank}`}),
       el("span", {class: "score", text: `score ${h.score.toFixed(3)}`})),
    scoreBar(h.score),
    el("p", {class: "text", text: h.text}),
    h.targets && h.targets.length ? el("p", {class: "targets", text: "Target: " + h.targets.join("; ")}) : null,
    h.known ? el("span", {class: "known", text: "✓ recorded for this molecule in ChEMBL"}) : null,
    follow("Molecules for this text →", "text", h.text));
}

function showError(message) {
  const e = $("error");
  e.textContent = message;
  e.hidden = !message;
}

async function search(push = true) {
  const m = mode(), q = $("q").value.trim(), k = $("k").value.trim() || "10";
  showError("");
  if (!q) { showError(m === "smiles" ? "Type a SMILES first." : "Type a mechanism text first."); return; }
  if (current) current.abort();
  current = new AbortController();
  const params = m === "smiles" ? {s: q, k} : {q, k};
  if (push) history.replaceState(null, "", "?" + new URLSearchParams({mode: m, q, k}));
  $("go").disabled = true;
  $("status").textContent = "Searching…";
  const t0 = performance.now();
  try {
    const r = await fetch(`api/${m === "smiles" ? "smiles" : "search"}?` + new URLSearchParams(params),
                          {signal: current.signal});
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    render(m, body, performance.now() - t0);
  } catch (err) {
    if (err.name === "AbortError") return;
    $("status").textContent = "";
    $("results").replaceChildren();
    $("query-molecule").hidden = true;
    showError(err.message);
  } finally {
    $("go").disabled = false;
  }
}

function render(m, body, ms) {
  const results = $("results"), qm = $("query-molecule");
  const n = body.n_candidates.toLocaleString("en");
  if (m === "smiles") {
    $("status").textContent = `Top ${body.hits.length} of ${n} mechanism texts for the molecule (${Math.round(ms)} ms).`;
    qm.replaceChildren(molecule(body.parent_smiles, "the query molecule"),
      el("div", {}, el("p", {class: "name", text: "Query molecule (its ChEMBL parent)"}),
         el("p", {class: "smiles-text", text: body.parent_smiles}),
         el("p", {class: "ids", text: body.parent_inchikey})));
    qm.hidden = false;
    results.className = "results texts";
    results.replaceChildren(...body.hits.map(textCard));
  } else {
    const where = body.searched === "index" ? `molecules in ${info ? info.searched.name : "the index"}`
                                            : "molecules of the run's data";
    $("status").textContent = `Top ${body.hits.length} of ${n} ${where} for “${body.query}” (${Math.round(ms)} ms).`
      + (body.note ? " Note: " + body.note + "." : "");
    qm.hidden = true;
    results.className = "results";
    results.replaceChildren(...body.hits.map(moleculeCard));
  }
}

function describe(i) {
  const b = i.bridge, s = i.searched;
  const view = `${b.text_view} text${b.with_name ? " with drug names" : ""}`;
  const hash = b.data_hash ? b.data_hash.slice(0, 12) : "unknown";
  const what = s.kind === "index" ? `index ${s.name} (${s.molecules.toLocaleString("en")} molecules, ${s.index_kind})`
                                  : `${s.molecules.toLocaleString("en")} molecules of the run's data`;
  return `Bridge ${b.run}: ${b.split} split, ${view}, ${b.drug_encoder} drugs, ${b.bridge} heads, data ${hash}. ` +
         `Searching ${what}.`;
}

async function start() {
  setMode("text");
  document.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", () => {
    setMode(r.value); $("q").value = ""; $("results").replaceChildren(); $("query-molecule").hidden = true;
    $("status").textContent = ""; showError(""); $("q").focus();
  }));
  $("search").addEventListener("submit", (e) => { e.preventDefault(); search(); });
  try {
    const r = await fetch("api/info");
    info = await r.json();
    $("bridge").textContent = describe(info);
    if (info.book_url) $("book-link").href = info.book_url;
    $("k").max = info.limits.max_k;
    if (!info.smiles_queries) {
      const radio = document.querySelector("input[name=mode][value=smiles]");
      radio.disabled = true;
      radio.parentElement.title = info.smiles_error;
    }
  } catch (err) {
    $("bridge").textContent = "Could not reach the server.";
  }
  const p = new URLSearchParams(location.search);
  if (p.get("mode") === "smiles" || p.get("mode") === "text") setMode(p.get("mode"));
  if (p.get("k")) $("k").value = p.get("k");
  if (p.get("q")) { $("q").value = p.get("q"); search(false); }
  $("q").focus();
}

document.addEventListener("DOMContentLoaded", start);
