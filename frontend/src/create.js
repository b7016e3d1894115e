// Create function page: a blueprint or an uploaded zip, sent with XHR so the upload's
// progress can be shown; service errors appear next to the field that caused them.
import { csrfToken, showError } from "./_http.js";

const form = document.getElementById("create-form");
const uploadFields = document.getElementById("upload-fields");
const progressBox = form.querySelector(".upload-progress");
const progress = document.getElementById("upload-progress");
const percent = document.getElementById("upload-percent");
const generalError = document.getElementById("create-error");
const submit = form.querySelector("button[type=submit]");

function choice() {
  return form.querySelector("input[name=source_choice]:checked").value;
}

function syncSource() {
  uploadFields.hidden = choice() !== "upload";
}
for (const radio of form.querySelectorAll("input[name=source_choice]")) {
  radio.addEventListener("change", syncSource);
}
syncSource();

function clearErrors() {
  for (const element of form.querySelectorAll(".error-inline")) element.hidden = true;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  clearErrors();
  const source = choice();
  const data = new FormData();
  data.append("name", form.elements.name.value.trim());
  data.append("role", form.elements.role.value.trim());
  if (source === "upload") {
    data.append("source", "upload");
    const file = form.elements.file.files[0];
    if (!file) {
      showError({ field: "file", message: "Choose a .zip file to upload." }, generalError);
      return;
    }
    data.append("file", file);
    data.append("runtime", form.elements.runtime.value);
    data.append("handler", form.elements.handler.value.trim());
  } else {
    data.append("source", "blueprint");
    data.append("blueprint", source);
  }
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.dataset.api);
  xhr.setRequestHeader("X-CSRFToken", csrfToken());
  xhr.responseType = "json";
  if (source === "upload") {
    progressBox.hidden = false;
    progress.value = 0;
    percent.textContent = "0 %";
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const value = Math.round((e.loaded / e.total) * 100);
      progress.value = value;
      percent.textContent = `${value} %`;
    });
    xhr.upload.addEventListener("load", () => {
      progress.value = 100;
      percent.textContent = "100 % · creating…";
    });
  }
  submit.disabled = true;
  submit.textContent = "Creating…";
  const done = () => {
    submit.disabled = false;
    submit.textContent = "Create function";
  };
  xhr.addEventListener("load", () => {
    const body = xhr.response || {};
    if (xhr.status >= 200 && xhr.status < 300 && body.url) {
      window.location.assign(body.url);
      return;
    }
    done();
    const error = body.error || { message: `The server answered ${xhr.status}.` };
    showError(error, generalError);
  });
  xhr.addEventListener("error", () => {
    done();
    showError({ message: "The upload failed: the server could not be reached." }, generalError);
  });
  xhr.send(data);
});
