/* Collection Copilot: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  function focusFirstMarked() {
    var target = document.querySelector("[data-autofocus]");
    if (target) { target.focus(); }
  }

  function parseEvents(buffer, onEvent) {
    var parts = buffer.split("\n\n");
    var rest = parts.pop();
    parts.forEach(function (block) {
      var name = "message";
      var data = [];
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) { name = line.slice(6).trim(); }
        else if (line.indexOf("data:") === 0) { data.push(line.slice(5).trim()); }
      });
      if (data.length) { onEvent(name, JSON.parse(data.join("\n"))); }
    });
    return rest;
  }

  function streamComposer(form) {
    var status = document.getElementById("stream-status");
    var output = document.getElementById("stream-text");
    var result = document.getElementById("draft-result");
    var button = form.querySelector("button[type=submit]");
    var csrf = form.querySelector("input[name=csrf_token]").value;
    var messages = form.dataset;

    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.TextDecoder) { return; }
      event.preventDefault();
      button.disabled = true;
      output.textContent = "";
      output.hidden = true;
      result.innerHTML = "";
      status.textContent = messages.msgDrafting;
      var finished = false;

      function onEvent(name, data) {
        if (name === "stored") {
          status.textContent = messages.msgStored;
        } else if (name === "token") {
          output.hidden = false;
          output.textContent += data.text;
        } else if (name === "done") {
          finished = true;
          output.hidden = true;
          result.innerHTML = data.html;
          status.textContent = messages.msgDone;
          var heading = document.getElementById("draft-h");
          if (heading) { heading.focus(); }
        } else if (name === "error") {
          finished = true;
          status.textContent = data.message;
          status.setAttribute("role", "alert");
        }
      }

      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "Accept": "text/event-stream", "X-CSRF-Token": csrf }
      }).then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (!response.ok || type.indexOf("text/event-stream") !== 0) {
          finished = true;
          form.submit();  // let the server's own error page explain
          return null;
        }
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) { return; }
            buffer = parseEvents(buffer + decoder.decode(chunk.value, { stream: true }), onEvent);
            return pump();
          });
        }
        return pump();
      }).catch(function () {
        status.textContent = messages.msgFailed;
        status.setAttribute("role", "alert");
      }).then(function () {
        button.disabled = false;
        if (!finished && status.getAttribute("role") !== "alert") {
          status.textContent = messages.msgFailed;
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusFirstMarked();
    document.querySelectorAll("form[data-stream]").forEach(streamComposer);
  });
})();
