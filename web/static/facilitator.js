// The facilitator's board: create a training, see every session live, end, extend, watch.
"use strict";
(function () {
  var token = new URLSearchParams(location.search).get("token") || "";
  var $ = function (id) { return document.getElementById(id); };
  var watching = null;

  function lines(text) { return text.split("\n").map(function (s) { return s.trim(); }).filter(Boolean); }

  $("training-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("create-error").textContent = "";
    var names = lines($("names").value);
    var campaign = $("campaign").checked;
    var body = {title: $("title").value, scenarios: campaign ? [] : lines($("scenarios").value), campaign: campaign,
                sla_minutes: Number($("sla").value), session_minutes: Number($("lifetime").value),
                seats: names.length ? names : Number($("count").value)};
    Replay.api("POST", "/api/trainings", token, body).then(function (created) {
      var list = document.createElement("ol");
      created.invites.forEach(function (invite) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = invite.url;
        link.className = "invite";
        link.textContent = invite.url;
        var scenario = created.campaign ? "the campaign's next" : invite.scenario;
        item.textContent = (invite.name || "seat " + invite.seat) + " (" + scenario + "): ";
        item.appendChild(link);
        list.appendChild(item);
      });
      var box = $("invites");
      box.textContent = "Invite links of " + created.training + " (shown once: hand each to its trainee):";
      box.appendChild(list);
    }).catch(function (error) { $("create-error").textContent = error.message; });
  });

  function action(label, handler) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.addEventListener("click", handler);
    return button;
  }

  function post(path, body) {
    Replay.api("POST", path, token, body).catch(function (error) { alert(error.message); });
  }

  function watch(row) {
    if (watching) { watching.close(); }
    $("watch").hidden = false;
    $("watching").textContent = row.trainee + " (" + row.scenario + ")";
    var element = $("watch-terminal");
    element.textContent = "";
    var path = "/ws/watch/" + encodeURIComponent(row.session) + "?token=" + encodeURIComponent(token) +
               "&service=" + encodeURIComponent(row.shell_service);
    watching = Replay.terminal(element, path, false);
  }

  $("campaign").addEventListener("change", function () { $("scenarios").disabled = $("campaign").checked; });

  // What the status cell says: the status, why a session ended, how long a live one has been idle.
  function statusText(row, board) {
    var text = String(row.status).toUpperCase() + (row.error ? ": " + row.error : "");
    if (row.ended_because) { text += " (" + row.ended_because + ")"; }
    if (row.idle_ends_at) {
      var idle = board.idle_minutes * 60 - (row.idle_ends_at - Date.now() / 1000);
      if (idle >= 120) {
        text += " · idle " + Math.floor(idle / 60) + " min, ends " + new Date(row.idle_ends_at * 1000).toLocaleTimeString();
      }
    }
    return text;
  }

  $("stop-watching").addEventListener("click", function () {
    if (watching) { watching.close(); watching = null; }
    $("watch").hidden = true;
  });

  function render(board) {
    $("capacity").textContent = board.live + " / " + board.max_sessions + " sessions live";
    var body = $("board").tBodies[0];
    body.textContent = "";
    board.sessions.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.dataset.session = row.session || "";
      tr.className = row.status;
      Replay.cell(tr, row.trainee || "seat " + row.seat);
      Replay.cell(tr, row.scenario);
      Replay.cell(tr, statusText(row, board)).className = "status-cell";
      Replay.cell(tr, row.sla_left === undefined ? "" : Replay.clock(row.sla_left));
      Replay.cell(tr, row.hints_total === undefined ? "" : row.hints_used + " / " + row.hints_total);
      Replay.cell(tr, row.score);
      Replay.cell(tr, row.expires_at ? new Date(row.expires_at * 1000).toLocaleTimeString() : "");
      var actions = Replay.cell(tr, "");
      if (row.live) {
        actions.appendChild(action("Watch", function () { watch(row); }));
        actions.appendChild(action("+15 min", function () {
          post("/api/sessions/" + encodeURIComponent(row.session) + "/extend", {minutes: 15});
        }));
        actions.appendChild(action("End", function () {
          if (confirm("End " + (row.trainee || "this") + "'s session?")) {
            post("/api/sessions/" + encodeURIComponent(row.session) + "/end", {});
          }
        }));
      }
      body.appendChild(tr);
    });
    var leaders = $("leaderboard").tBodies[0];
    leaders.textContent = "";
    board.leaderboard.forEach(function (row, index) {
      var tr = document.createElement("tr");
      [index + 1, row.trainee, row.scenario, row.score, Replay.clock(row.elapsed)].forEach(function (text) {
        Replay.cell(tr, text);
      });
      leaders.appendChild(tr);
    });
  }

  Replay.follow("/ws/board?token=" + encodeURIComponent(token), render);
})();
