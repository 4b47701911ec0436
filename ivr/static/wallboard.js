// The wallboard: each department's live figures with marks past the hotline file's thresholds,
// and the agents, whose state a supervisor can set. Every figure comes pushed by the hotline.
"use strict";

let board = null;
let clockOffset = 0;

function percent(value) {
  return value === null || value === undefined ? "—" : `${Math.round(value * 100)}%`;
}

// A clock time in the hotline's time zone (that of its hours and peak hours), in the page's language.
function clockTime(when, withSeconds) {
  const options = { timeZone: PAGE.timezone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (withSeconds) options.second = "2-digit";
  return new Date(when).toLocaleTimeString(PAGE.locale, options);
}

function departmentName(dept) {
  return (PAGE.departments[dept] || {})[PAGE.locale] || dept;
}

function seconds(value) {
  return value === null || value === undefined ? "—" : duration(value);
}

// A mark says which way a figure crossed its threshold: a service level falls below its target.
function cell(label, value, field, marked) {
  const box = document.createElement("div");
  box.className = "figure" + (marked ? " marked" : "");
  box.dataset.field = field;
  const name = document.createElement("span");
  name.className = "label";
  name.textContent = label;
  const figure = document.createElement("span");
  figure.className = "value";
  figure.textContent = value;
  box.append(name, figure);
  if (marked) {
    const mark = document.createElement("span");
    mark.className = "mark";
    mark.textContent = `⚠ ${field === "service_level" ? T.below_target : T.marked}`;
    box.append(mark);
  }
  return box;
}

function surveysOf(group, key, name) {
  return ((board && board.surveys && board.surveys[group]) || []).find((row) => row[key] === name);
}

function queueCard(q, limits) {
  const card = document.createElement("article");
  card.className = "card queue";
  card.dataset.dept = q.department;
  const title = document.createElement("h3");
  title.textContent = departmentName(q.department);
  if (q.peak_hour_now) {
    const peak = document.createElement("span");
    peak.className = "peak";
    peak.textContent = T.peak;
    title.append(" ", peak);
  }
  // The words a caller joining now hears, as the hold loop says them (not the raw 80% range).
  const said = q.estimated_wait_spoken;
  const range = said
    ? T["wait_" + said.kind].replace("{low}", said.low_minutes).replace("{high}", said.high_minutes)
    : T.nobody;
  const byState = Object.entries(q.agents).filter(([, n]) => n > 0)
    .map(([state, n]) => `${T["st_" + state] || state} ${n}`).join(" · ") || "—";
  const cb = q.callbacks;
  const owed = Math.max(0, cb.callbacks_requested + cb.callbacks_scheduled - cb.callbacks_connected - cb.callbacks_failed);
  const slMarked = q.service_level !== null && q.service_level < limits.service_level_target;
  const waitMarked = q.longest_wait_seconds > limits.longest_wait_alert_seconds;
  const abandonMarked = q.abandonment_rate !== null && q.abandonment_rate > limits.abandonment_alert;
  const grid = document.createElement("div");
  grid.className = "figures";
  grid.append(
    cell(T.waiting, String(q.waiting), "waiting", false),
    cell(T.longest, duration(q.longest_wait_seconds), "longest_wait_seconds", waitMarked),
    cell(T.expected, range, "estimated_wait_range", false),
    cell(T.agents_by_state, byState, "agents", false),
    cell(T.offered, String(q.offered), "offered", false),
    cell(T.answered, String(q.answered), "answered", false),
    cell(T.abandoned, String(q.abandoned), "abandoned", false),
    cell(T.service_level, percent(q.service_level), "service_level", slMarked),
    cell(T.abandon_rate, percent(q.abandonment_rate), "abandonment_rate", abandonMarked),
    cell(T.avg_wait, seconds(q.average_wait_seconds), "average_wait_seconds", false),
    cell(T.aht, seconds(q.average_handle_seconds), "average_handle_seconds", false),
    cell(T.callbacks_owed, String(owed), "callbacks_owed", false),
    cell(T.satisfaction, score(surveysOf("departments", "department", q.department)), "satisfaction", false),
  );
  card.classList.toggle("alert", slMarked || waitMarked || abandonMarked);
  card.append(title, grid);
  return card;
}

function stateControl(agent) {
  const wrap = document.createElement("div");
  wrap.className = "set-state";
  const select = document.createElement("select");
  select.setAttribute("aria-label", `${T.set_state}: ${agent.name || agent.id}`);
  for (const state of ["ready", "not_ready", "offline"]) {
    const option = document.createElement("option");
    option.value = state;
    option.textContent = T["st_" + state];
    select.append(option);
  }
  const reason = document.createElement("select");
  reason.setAttribute("aria-label", T.reason);
  for (const r of PAGE.reasons) {
    const option = document.createElement("option");
    option.value = r;
    option.textContent = T["reason_" + r];
    reason.append(option);
  }
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = T.set_state;
  button.addEventListener("click", async () => {
    const body = { state: select.value };
    if (select.value === "not_ready") body.reason = reason.value;
    try {
      await api("PUT", `/api/supervisor/agents/${encodeURIComponent(agent.id)}/state`, body);
      showMessage(`${agent.name || agent.id}: ${T["st_" + select.value]}`, false);
    } catch (err) {
      showMessage(err.message, true);
    }
  });
  wrap.append(select, reason, button);
  return wrap;
}

function render(data) {
  board = data;
  clockOffset = Date.parse(data.now) - Date.now();
  document.getElementById("as-of").textContent = clockTime(data.queues.as_of, true);
  const queues = document.getElementById("queues");
  queues.replaceChildren(...data.queues.queues.map((q) => queueCard(q, data.thresholds)));
  renderToday(data.intervals || []);
  renderWeek(data.week || {});
  const rows = document.querySelector("#agents tbody");
  // Keep a row whose state control has focus: a supervisor choosing a state is not interrupted.
  const focused = document.activeElement && document.activeElement.closest("tr[data-agent]");
  const kept = focused ? focused.dataset.agent : null;
  const fresh = data.agents.agents.map((agent) => {
    if (agent.id === kept) return focused;
    const row = document.createElement("tr");
    row.dataset.agent = agent.id;
    row.dataset.state = agent.state;
    const since = document.createElement("td");
    since.className = "since";
    since.dataset.since = agent.since;
    const depts = Object.keys(agent.departments).map(departmentName).join(", ");
    const values = [agent.name || agent.id, T["st_" + agent.state] || agent.state];
    for (const value of values) {
      const td = document.createElement("td");
      td.textContent = value;
      row.append(td);
    }
    row.children[1].className = "state";
    row.append(since);
    const dept = document.createElement("td");
    dept.textContent = depts + (agent.call ? ` · ${agent.call}` : "");
    const answered = document.createElement("td");
    answered.textContent = String(agent.answered_today);
    const satisfaction = document.createElement("td");
    satisfaction.textContent = score(surveysOf("agents", "agent", agent.id));
    const control = document.createElement("td");
    control.append(stateControl(agent));
    row.append(dept, answered, satisfaction, control);
    return row;
  });
  rows.replaceChildren(...fresh);
  tick();
}

// Today's intervals as a bar chart in a table: each count with a bar scaled to the busiest one.
function renderToday(rows) {
  const body = document.querySelector("#today tbody");
  const most = Math.max(1, ...rows.map((r) => r.offered));
  body.replaceChildren(...rows.slice(-16).map((r) => {
    const row = document.createElement("tr");
    const time = document.createElement("th");
    time.scope = "row";
    time.textContent = clockTime(r.start, false);
    row.append(time);
    for (const name of ["offered", "answered", "abandoned"]) {
      const td = document.createElement("td");
      const bar = document.createElement("span");
      bar.className = `bar ${name}`;
      bar.style.width = `${(70 * r[name]) / most}%`;
      const value = document.createElement("span");
      value.textContent = String(r[name]);
      td.append(bar, value);
      row.append(td);
    }
    const settled = r.answered + r.abandoned;
    const level = document.createElement("td");
    level.textContent = settled ? percent(r.within / settled) : "—";
    row.append(level);
    return row;
  }));
}

// The week's load as a heat map: a row per weekday, a cell per hour, darker for more calls,
// ▲ on the department's peak hours; each cell says its figure in words for a screen reader.
function renderWeek(week) {
  const dept = document.getElementById("week-dept").value;
  const data = week[dept];
  const body = document.querySelector("#week tbody");
  if (!data) { body.replaceChildren(); return; }
  const most = Math.max(1, ...data.calls);
  const queue = ((board && board.queues.queues) || []).find((q) => q.department === dept);
  const peak = new Set(queue ? queue.peak_hours : []);
  const days = T.weekdays.split(",");
  body.replaceChildren(...days.map((day, d) => {
    const row = document.createElement("tr");
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = day;
    row.append(name);
    for (let h = 0; h < 24; h++) {
      const how = d * 24 + h, calls = data.calls[how], share = calls / most;
      const cell = document.createElement("td");
      cell.dataset.how = String(how);
      cell.textContent = peak.has(how) ? "▲" : "";
      cell.className = (peak.has(how) ? "peak-hour " : "") + (share > 0.55 ? "dark" : "");
      cell.style.backgroundColor = `rgba(18, 38, 63, ${(0.06 + 0.9 * share).toFixed(2)})`;
      const words = `${day} ${h}:00 ${calls} ${T.calls_per_hour}${peak.has(how) ? " · " + T.peak : ""}`;
      cell.title = words;
      cell.setAttribute("aria-label", words);
      row.append(cell);
    }
    return row;
  }));
}

function score(row) {
  return row && row.average_score !== null ? `${row.average_score.toFixed(1)} (${row.answered})` : "—";
}

function tick() {
  const now = Date.now() + clockOffset;
  for (const cell of document.querySelectorAll("#agents td.since")) {
    cell.textContent = duration((now - Date.parse(cell.dataset.since)) / 1000);
  }
}

document.getElementById("week-dept").addEventListener("change", () => renderWeek((board && board.week) || {}));
PAGE.probe = () => api("GET", "/api/supervisor/agents");
liveStream("/live/wallboard", "board", render);
setInterval(tick, 1000);
