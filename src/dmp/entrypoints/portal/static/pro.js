// DMP — the professional portal's script: the INS key checked as it is typed, the print
// buttons, and the document types narrowed as a word is typed. The forms work without it (the
// server checks the INS again; the types' search is a GET form).
"use strict";
(() => {
  // The key of an INS (NIR): 97 − (NIR mod 97), Corsica's 2A and 2B read as 19 and 18.
  function insProblem(raw) {
    const value = raw.replace(/[\s.-]/g, "").toUpperCase();
    if (value.length === 0) return "";
    if (!/^[12378][0-9]{2}(0[1-9]|1[0-2]|[2-9][0-9])(2[AB]|[0-9]{2})[0-9]{6}[0-9]{2}$/.test(value)) {
      if (value.length < 15) return `INS incomplet : ${value.length} caractères sur 15.`;
      return "INS mal formé : 13 caractères (chiffres, 2A ou 2B pour la Corse) puis la clé de 2 chiffres.";
    }
    const nir = value.slice(0, 13).replace("2A", "19").replace("2B", "18");
    const key = 97 - Number(BigInt(nir) % 97n);
    if (key !== Number(value.slice(13))) return "La clé de l'INS ne correspond pas : vérifiez la saisie.";
    return "";
  }
  document.addEventListener("DOMContentLoaded", () => {
    for (const input of document.querySelectorAll("input[data-ins]")) {
      const status = document.getElementById("ins-cle");
      const check = () => {
        const problem = insProblem(input.value);
        input.setCustomValidity(problem);
        input.setAttribute("aria-invalid", problem ? "true" : "false");
        if (status) status.textContent = problem || (input.value ? "Clé de l'INS correcte." : "");
      };
      input.addEventListener("input", check);
      check();
    }
    for (const input of document.querySelectorAll("input[data-type-filter]")) {
      const select = document.getElementById(input.dataset.typeFilter);
      if (!select) continue;
      const fold = (text) => text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
      input.addEventListener("input", () => {
        const words = fold(input.value).split(/\s+/).filter(Boolean);
        for (const option of select.querySelectorAll("option[value]:not([value=''])")) {
          const text = fold(`${option.textContent} ${option.value}`);
          option.hidden = !words.every((word) => text.includes(word));
        }
      });
    }
    for (const button of document.querySelectorAll("[data-print]")) {
      button.addEventListener("click", () => window.print());
    }
  });
})();
