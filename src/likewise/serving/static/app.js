// The likewise service's page: plain browser JavaScript, no framework, no build step.
// Everything it shows comes from the service's own JSON API on the same origin; every value
// from the API is written with textContent (never innerHTML), so a title cannot inject markup.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ API

  class ApiError extends Error {}

  // FastAPI's 422 bodies carry a list of {loc, msg}; our own errors a string `detail`.
  function describeError(status, body) {
    const detail = body && body.detail !== undefined ? body.detail : body;
    if (Array.isArray(detail)) {
      return detail
        .map((d) => (d && d.msg ? `${(d.loc || []).slice(1).join(".") || "request"}: ${d.msg}` : String(d)))
        .join("; ");
    }
    if (detail && typeof detail === "object") return detail.message || JSON.stringify(detail);
    return detail ? String(detail) : `HTTP ${status}`;
  }

  async function api(path, options = {}) {
    const init = { method: options.method || "GET", headers: { Accept: "application/json" } };
    if (options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    if (options.token) init.headers.Authorization = `Bearer ${options.token}`;
    let response;
    try {
      response = await fetch(path, init);
    } catch (exc) {
      throw new ApiError(`The service did not answer (${exc.message}).`);
    }
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (_exc) {
      body = text;
    }
    if (!response.ok) throw new ApiError(`${response.status}: ${describeError(response.status, body)}`);
    return body;
  }

  function query(params) {
    const parts = [];
    for (const [key, value] of Object.entries(params)) {
      const values = Array.isArray(value) ? value : [value];
      for (const v of values) {
        if (v !== undefined && v !== null && v !== "") parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(v)}`);
      }
    }
    return parts.length ? `?${parts.join("&")}` : "";
  }

  // A typed id: the service takes raw ids as strings or numbers; a canonical integer goes as a
  // JSON number (MovieLens-style models have integer ids), anything else as the string typed.
  // Ids picked from a list keep the exact value the API returned.
  function typedId(text) {
    const trimmed = text.trim();
    if (/^(0|-?[1-9]\d*)$/.test(trimmed) && Number.isSafeInteger(Number(trimmed))) return Number(trimmed);
    return trimmed;
  }

  function newEventId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    return `page-${Date.now()}-${Math.random().toString(16).slice(2)}`;
  }

  // ------------------------------------------------------------------ rendering

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = !message;
  }

  function showModel(model) {
    if (!model) return;
    const parts = [model.name, model.version ? `version ${model.version}` : null,
      model.trained_at ? `trained ${model.trained_at}` : null].filter(Boolean);
    $("model-info").textContent = `Model: ${parts.join(", ")}`;
  }

  function itemCell(entry) {
    const cell = document.createElement("td");
    const title = entry.title;
    const name = document.createElement("span");
    name.className = "title";
    name.textContent = title ? String(title) : String(entry.item);
    cell.appendChild(name);
    if (title) {
      const id = document.createElement("span");
      id.className = "id";
      id.textContent = ` (${entry.item})`;
      cell.appendChild(id);
    }
    return cell;
  }

  function labelOf(entry) {
    return entry.title ? String(entry.title) : `item ${entry.item}`;
  }

  // A reason is text, or a structured account (the items that drove the score).
  function reasonText(reason) {
    if (reason === undefined || reason === null) return "";
    if (typeof reason === "string") return reason;
    if (Array.isArray(reason)) return reason.map(reasonText).filter(Boolean).join("; ");
    if (typeof reason === "object") {
      if (reason.text) return String(reason.text);
      if (reason.title) return String(reason.title);
      if (reason.item !== undefined) return String(reason.item);
      const because = reason.because || reason.items;
      if (because) return `Because of ${reasonText(because)}`;
      return JSON.stringify(reason);
    }
    return String(reason);
  }

  function textCell(text, className) {
    const cell = document.createElement("td");
    if (className) cell.className = className;
    cell.textContent = text;
    return cell;
  }

  function formatScore(score) {
    return typeof score === "number" && Number.isFinite(score) ? score.toFixed(3) : String(score ?? "");
  }

  function actionButton(text, label, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small";
    button.textContent = text;
    button.setAttribute("aria-label", label);
    button.addEventListener("click", onClick);
    return button;
  }

  // Recommendation rows: rank, item, score, reason, and an optional action per row.
  function renderRecs(tableId, emptyId, items, emptyText, action) {
    const table = $(tableId);
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const entry of items) {
      const row = document.createElement("tr");
      row.dataset.item = String(entry.item);
      row.appendChild(textCell(String(entry.rank ?? ""), "num"));
      row.appendChild(itemCell(entry));
      row.appendChild(textCell(formatScore(entry.score), "num"));
      row.appendChild(textCell(reasonText(entry.reason), "reason"));
      const actions = document.createElement("td");
      if (action) actions.appendChild(action(entry));
      row.appendChild(actions);
      body.appendChild(row);
    }
    table.hidden = items.length === 0;
    const empty = $(emptyId);
    empty.hidden = items.length > 0;
    empty.textContent = emptyText;
  }

  function formatWhen(value) {
    if (value === undefined || value === null || value === "") return "";
    const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().slice(0, 19).replace("T", " ");
  }

  function renderHistory(items) {
    const table = $("history");
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const entry of items) {
      const row = document.createElement("tr");
      row.dataset.item = String(entry.item);
      row.appendChild(itemCell(entry));
      row.appendChild(textCell(entry.value === undefined || entry.value === null ? "" : String(entry.value), "num"));
      row.appendChild(textCell(formatWhen(entry.timestamp)));
      body.appendChild(row);
    }
    table.hidden = items.length === 0;
    $("history-empty").hidden = items.length > 0;
    $("history-empty").textContent = "This user has no history.";
  }

  function showFallback(elementId, fallback) {
    const box = $(elementId);
    box.hidden = !fallback;
    box.textContent = fallback ? `Not personal yet: answered by the fallback "${fallback}".` : "";
  }

  // ------------------------------------------------------------------ a known user

  let shownUser = null;

  async function loadUser(user) {
    const n = Number($("user-n").value) || 10;
    const filter = $("user-filter").value.trim();
    const path = `v1/users/${encodeURIComponent(user)}`;
    const [recs, history] = await Promise.all([
      api(`${path}/recommendations${query({ n, filter: filter || undefined, explain: "true" })}`),
      api(`${path}/history${query({ limit: 50 })}`),
    ]);
    shownUser = user;
    showModel(recs.model);
    showFallback("user-fallback", recs.fallback);
    renderRecs("recs", "recs-empty", recs.items, "No item is eligible for this user.", (entry) =>
      actionButton("Record", `Record an event: user ${user} and ${labelOf(entry)}`, () =>
        postEvents(user, [{ item: entry.item }]),
      ),
    );
    renderHistory(history.items || []);
  }

  async function onUserSubmit(event) {
    event.preventDefault();
    const user = $("user-id").value.trim();
    if (!user) return;
    if (!$("event-user").value) $("event-user").value = user;
    await guarded(() => loadUser(user));
  }

  // ------------------------------------------------------------------ events

  async function postEvents(user, events) {
    const token = $("token").value;
    const result = $("event-result");
    if (!token) {
      result.textContent = "Enter the API token first: posting events needs it.";
      $("token").focus();
      return;
    }
    // The click time goes with the event, so the history shows when it happened.
    const now = Date.now() / 1000;
    const payload = events.map((e) => ({ user: typedId(String(user)), event_id: newEventId(), timestamp: now, ...e }));
    result.textContent = "Posting…";
    await guarded(async () => {
      const ack = await api("v1/events", { method: "POST", body: { events: payload }, token });
      result.textContent = `Accepted ${ack.accepted}, duplicates ${ack.duplicates}.`;
      if (shownUser !== null && String(shownUser) === String(user)) await loadUser(shownUser);
    }, () => {
      result.textContent = "Not posted.";
    });
  }

  async function onEventSubmit(event) {
    event.preventDefault();
    const user = $("event-user").value.trim();
    const item = $("event-item").value;
    if (!user || !item.trim()) return;
    const entry = { item: typedId(item) };
    const value = $("event-value").value;
    if (value !== "") entry.value = Number(value);
    await postEvents(user, [entry]);
  }

  // ------------------------------------------------------------------ a new visitor

  const likes = new Map(); // String(item) -> {item, title, weight}

  function likeButton(entry) {
    const liked = likes.has(String(entry.item));
    const button = actionButton(liked ? "Liked" : "Like", `Like ${labelOf(entry)}`, () => like(entry));
    button.disabled = liked;
    return button;
  }

  function renderFound(items) {
    const list = $("found");
    list.replaceChildren();
    for (const entry of items) {
      const li = document.createElement("li");
      li.dataset.item = String(entry.item);
      const name = document.createElement("span");
      name.textContent = labelOf(entry);
      li.append(name, " ", likeButton(entry));
      list.appendChild(li);
    }
    $("found-empty").hidden = items.length > 0;
    $("found-empty").textContent = "No title matches.";
  }

  function renderLikes() {
    const list = $("likes");
    list.replaceChildren();
    for (const entry of likes.values()) {
      const li = document.createElement("li");
      li.dataset.item = String(entry.item);
      const name = document.createElement("span");
      name.textContent = labelOf(entry);
      const id = `weight-${list.children.length}`;
      const label = document.createElement("label");
      label.htmlFor = id;
      label.className = "visually-hidden";
      label.textContent = `How much you like ${labelOf(entry)}`;
      const select = document.createElement("select");
      select.id = id;
      for (let stars = 1; stars <= 5; stars += 1) {
        const option = new Option(`${"★".repeat(stars)} ${stars}`, String(stars), false, stars === entry.weight);
        select.appendChild(option);
      }
      select.addEventListener("change", () => {
        entry.weight = Number(select.value);
        guarded(refreshVisitor);
      });
      const remove = actionButton("Remove", `Remove ${labelOf(entry)} from your likes`, () => {
        likes.delete(String(entry.item));
        renderLikes();
        guarded(refreshVisitor);
      });
      li.append(name, " ", label, select, " ", remove);
      list.appendChild(li);
    }
    $("likes-empty").hidden = likes.size > 0;
    for (const li of $("found").children) {
      const button = li.querySelector("button");
      if (button) {
        const liked = likes.has(li.dataset.item);
        button.disabled = liked;
        button.textContent = liked ? "Liked" : "Like";
      }
    }
  }

  // Each change of the likes asks again; only the latest answer is shown (an earlier request
  // that answers late must not overwrite it).
  let visitorTicket = 0;

  async function refreshVisitor() {
    const ticket = ++visitorTicket;
    if (likes.size === 0) {
      renderRecs("visitor-recs", "visitor-recs-empty", [], "Like an item to get recommendations.");
      return;
    }
    const history = [...likes.values()].map((e) => ({ item: e.item, weight: e.weight }));
    const n = Number($("user-n").value) || 10;
    const recs = await api("v1/recommendations", { method: "POST", body: { history, n, explain: true } });
    if (ticket !== visitorTicket) return;
    showModel(recs.model);
    renderRecs("visitor-recs", "visitor-recs-empty", recs.items, "No item is eligible.", likeButton);
  }

  async function like(entry) {
    if (likes.has(String(entry.item))) return;
    likes.set(String(entry.item), { item: entry.item, title: entry.title, weight: 5 });
    renderLikes();
    await guarded(refreshVisitor);
  }

  async function onSearchSubmit(event) {
    event.preventDefault();
    const q = $("search-q").value.trim();
    if (!q) return;
    await guarded(async () => {
      const found = await api(`v1/items${query({ q, limit: 20 })}`);
      renderFound(found.items || []);
      $("found").dataset.query = q; // which search the list shows (tests wait on it)
    });
  }

  // ------------------------------------------------------------------ start

  // Runs an action, showing its error in the alert box instead of losing it in the console.
  async function guarded(action, onError) {
    try {
      await action();
      showError("");
    } catch (exc) {
      showError(exc instanceof ApiError ? exc.message : `Unexpected error: ${exc.message}`);
      if (onError) onError(exc);
    }
  }

  async function checkService() {
    const status = $("service-status");
    try {
      await api("readyz");
      status.textContent = "Service ready";
      status.className = "status ok";
    } catch (exc) {
      status.textContent = `Service not ready: ${exc.message}`;
      status.className = "status bad";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("user-form").addEventListener("submit", onUserSubmit);
    $("event-form").addEventListener("submit", onEventSubmit);
    $("search-form").addEventListener("submit", onSearchSubmit);
    const fromUrl = new URLSearchParams(window.location.search).get("user");
    if (fromUrl) {
      $("user-id").value = fromUrl;
      $("event-user").value = fromUrl;
      guarded(() => loadUser(fromUrl));
    }
    checkService();
    document.body.dataset.ready = "true";
  });
})();
