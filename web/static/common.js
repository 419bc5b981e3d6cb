// Shared by the pages: the API, the sockets, a terminal. Text only ever goes in as textContent.
"use strict";
var Replay = (function () {
  function api(method, path, token, body) {
    var options = {method: method, headers: {"Authorization": "Bearer " + token}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.error || response.statusText); }
        return data;
      });
    });
  }

  function socketUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  // Follow a live view: onView(view) on every change; reconnects while the page is open.
  function follow(path, onView) {
    var socket = new WebSocket(socketUrl(path));
    socket.onmessage = function (event) { onView(JSON.parse(event.data)); };
    socket.onclose = function (event) {
      if (event.code !== 1008) { setTimeout(function () { follow(path, onView); }, 2000); }
    };
    return socket;
  }

  // A terminal in `element`, attached to the socket at `path`; writable or read-only.
  function terminal(element, path, writable, onClose) {
    var term = new Terminal({cursorBlink: writable, disableStdin: !writable, fontSize: 14, scrollback: 5000});
    term.open(element);
    term.fit();
    var decoder = new TextDecoder();
    var socket = new WebSocket(socketUrl(path));
    socket.binaryType = "arraybuffer";
    function resize() {
      term.fit();
      if (writable && socket.readyState === 1) { socket.send(JSON.stringify({resize: [term.rows, term.cols]})); }
    }
    var pending = [];  // keys typed before the socket opened: sent once it does
    socket.onopen = function () {
      resize();
      pending.forEach(function (data) { socket.send(JSON.stringify({input: data})); });
      pending = [];
    };
    socket.onmessage = function (event) {
      if (typeof event.data === "string") { term.write("\r\n" + JSON.parse(event.data).error + "\r\n"); return; }
      var bytes = new Uint8Array(event.data);
      element.dataset.received = String(Number(element.dataset.received || 0) + bytes.length);
      term.write(decoder.decode(bytes, {stream: true}));
    };
    socket.onclose = function () {
      term.write("\r\n[disconnected" + (writable ? ": click the tab for a new shell" : "") + "]\r\n");
      if (onClose) { onClose(); }
    };
    if (writable) {
      term.on("data", function (data) {
        // A paste goes in 4 KiB pieces: the server refuses a message past 64 KiB.
        for (var at = 0; at < data.length; at += 4096) {
          var piece = data.slice(at, at + 4096);
          if (socket.readyState === 1) { socket.send(JSON.stringify({input: piece})); } else { pending.push(piece); }
        }
      });
    }
    window.addEventListener("resize", resize);
    return {term: term, socket: socket, resize: resize,
            close: function () { window.removeEventListener("resize", resize); socket.close(); term.destroy(); }};
  }

  function clock(seconds) {
    if (seconds === null || seconds === undefined) { return ""; }
    var s = Math.max(0, Math.round(seconds));
    var m = Math.floor(s / 60);
    return m + ":" + String(s % 60).padStart(2, "0");
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  return {api: api, follow: follow, terminal: terminal, clock: clock, cell: cell};
})();
