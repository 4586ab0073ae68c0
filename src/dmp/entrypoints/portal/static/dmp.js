// Mon DMP — the portal's only script: an upload shows its progress. The forms work without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-progress]")) {
    form.addEventListener("submit", (event) => {
      const bar = document.getElementById(form.dataset.progress);
      if (!bar || !window.XMLHttpRequest) return;
      event.preventDefault();
      const request = new XMLHttpRequest();
      request.open(form.method, form.action);
      request.upload.addEventListener("progress", (step) => {
        if (step.lengthComputable) bar.value = Math.round((100 * step.loaded) / step.total);
      });
      request.addEventListener("load", () => {
        if (request.status < 400 && request.responseURL) {
          window.location.assign(request.responseURL); // the page the form led to
        } else {
          document.open(); document.write(request.responseText); document.close();
        }
      });
      request.addEventListener("error", () => { form.submit(); });
      bar.hidden = false;
      request.send(new FormData(form));
    });
  }
});
