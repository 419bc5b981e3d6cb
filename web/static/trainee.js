// The trainee's page: join, the HUD (page, SLA, status, hints), a terminal per service, the debrief.
"use strict";
(function () {
  var token = decodeURIComponent(location.pathname.split("/").pop());
  var $ = function (id) { return document.getElementById(id); };
  var terminals = {};
  var current = null;
  var deadline = null;
  var idleEnd = null;
  var over = false;
  var IDLE_WARNING_SECONDS = 5 * 60;  // the last minutes before an idle session is ended are shown

  function show(section) {
    ["join", "play", "debrief"].forEach(function (id) { $(id).hidden = id !== section && !(id === "play" && section === "debrief"); });
  }

  function openTab(service) {
    Object.keys(terminals).forEach(function (name) { terminals[name].element.hidden = name !== service; });
    Array.prototype.forEach.call($("tabs").children, function (tab) {
      tab.classList.toggle("active", tab.dataset.service === service);
    });
    if (terminals[service] && terminals[service].closed) {
      terminals[service].view.close();
      terminals[service].element.remove();
      delete terminals[service];
    }
    if (!terminals[service]) {
      var element = document.createElement("div");
      element.className = "terminal";
      $("terminals").appendChild(element);
      var path = "/ws/terminal?token=" + encodeURIComponent(token) + "&service=" + encodeURIComponent(service);
      var opened = {element: element, closed: false};
      opened.view = Replay.terminal(element, path, true, function () { opened.closed = true; });
      terminals[service] = opened;
    }
    terminals[service].view.resize();
    terminals[service].view.term.focus();
  }

  function tabs(view) {
    if ($("tabs").children.length) { return; }
    var services = [view.shell_service].concat(view.services.filter(function (s) { return s !== view.shell_service; }));
    services.forEach(function (service) {
      var tab = document.createElement("button");
      tab.type = "button";
      tab.dataset.service = service;
      tab.textContent = service;
      tab.addEventListener("click", function () { openTab(service); });
      $("tabs").appendChild(tab);
    });
    openTab(view.shell_service);
  }

  function hints(view) {
    $("hint-count").textContent = view.hints_used + " / " + view.hints_total + " used";
    var list = $("hints");
    while (list.children.length < view.hints.length) {
      var item = document.createElement("li");
      item.textContent = view.hints[list.children.length];
      list.appendChild(item);
    }
    $("hint").disabled = view.terminal || view.hints_used >= view.hints_total;
  }

  function render(view) {
    current = view;
    $("status").textContent = String(view.status || "").toUpperCase();
    $("status").className = "status " + (view.status || "");
    if (view.status === "expired") { show("debrief"); $("outcome").textContent = "This training has ended."; return; }
    if (!view.session) {
      show("join");
      $("who").textContent = view.name ? ", " + view.name : "";
      $("name-row").hidden = Boolean(view.name);
      $("starting").hidden = view.status !== "starting";
      $("start").disabled = view.status === "starting";
      $("join-error").textContent = view.error || "";
      return;
    }
    if (view.page !== undefined) {
      $("title").textContent = view.title;
      $("page").textContent = view.page;
      hints(view);
      tabs(view);
    }
    deadline = view.deadline ? view.deadline * 1000 : null;
    idleEnd = view.idle_ends_at ? view.idle_ends_at * 1000 : null;
    over = Boolean(view.terminal) || view.status === "ended";
    if (over) {
      show("debrief");
      $("idle").textContent = "";
      $("outcome").textContent = String(view.status).toUpperCase();
      $("ended-why").textContent = view.ended_because ? "This session was " + view.ended_because + "." : "";
      $("debrief-text").textContent = (view.debrief || []).join("\n");
      $("sla").textContent = "";
    } else {
      show("play");
    }
  }

  function tick() {
    if (!over && deadline !== null) { $("sla").textContent = "SLA " + Replay.clock((deadline - Date.now()) / 1000); }
    var idleLeft = idleEnd === null || over ? null : (idleEnd - Date.now()) / 1000;
    $("idle").textContent = idleLeft !== null && idleLeft <= IDLE_WARNING_SECONDS
      ? "Nothing typed for a while: this session ends in " + Replay.clock(idleLeft) + " unless you type" : "";
  }

  $("start").addEventListener("click", function () {
    $("join-error").textContent = "";
    Replay.api("POST", "/api/seat/start", token, {name: $("name").value}).catch(function (error) {
      $("join-error").textContent = error.message;
    });
  });
  $("hint").addEventListener("click", function () {
    Replay.api("POST", "/api/seat/hint", token, {}).catch(function (error) { $("hint-count").textContent = error.message; });
  });
  Replay.follow("/ws/seat?token=" + encodeURIComponent(token), render);
  setInterval(tick, 1000);
})();
