// The policy documents' JSON editor: a plain textarea checked as it is typed. A syntax error
// is reported with its line and column (click the message to jump there); the document is
// never rewritten unless "Format JSON" is asked for. Whether it is a valid *policy* is the
// server's call (IAM's own rules), shown under the editor by the form's error handling.

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = " \t\n\r";

// The first JSON syntax error of `text` as {offset, message}, or null. A loop over an explicit
// stack rather than recursion, so a deeply nested document cannot exhaust the call stack.
export function jsonSyntaxError(text) {
  const n = text.length;
  const stack = [];
  let i = 0;
  let state = "value";
  const fail = (message) => ({ offset: Math.min(i, n), message });
  const skip = () => {
    while (i < n && WHITESPACE.includes(text[i])) i++;
  };
  const string = () => {
    i++; // the opening quote
    while (i < n) {
      const c = text[i];
      if (c === '"') {
        i++;
        return null;
      }
      if (c === "\\") {
        const escaped = text[i + 1];
        if (escaped === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return fail("Bad \\u escape in a string: \\u needs 4 hex digits");
          i += 6;
        } else if (escaped !== undefined && '"\\/bfnrt'.includes(escaped)) {
          i += 2;
        } else {
          return fail("Bad escape in a string (a backslash is written \\\\)");
        }
      } else if (c < " ") {
        return fail(c === "\n" ? "Unterminated string: a string cannot span lines" : "Control character in a string");
      } else {
        i++;
      }
    }
    return fail("Unterminated string: the closing \" is missing");
  };
  for (;;) {
    skip();
    if (state === "value") {
      if (i >= n) return fail(stack.length || n ? "Unexpected end of the document: a value is missing" : "The document is empty");
      const c = text[i];
      if (c === "{" || c === "[") {
        stack.push(c);
        i++;
        skip();
        if (text[i] === (c === "{" ? "}" : "]")) {
          i++;
          stack.pop();
          state = "after";
        } else {
          state = c === "{" ? "key" : "value";
        }
        continue;
      }
      if (c === '"') {
        const error = string();
        if (error) return error;
        state = "after";
        continue;
      }
      const word = ["true", "false", "null"].find((w) => text.startsWith(w, i));
      if (word) {
        i += word.length;
        state = "after";
        continue;
      }
      NUMBER.lastIndex = i;
      const number = NUMBER.exec(text);
      if (number) {
        i += number[0].length;
        state = "after";
        continue;
      }
      if (c === "'") return fail("Strings are written in double quotes (\"), not single quotes");
      if (c === "}" || c === "]") return fail(`Unexpected '${c}': a value is missing`);
      return fail(`Unexpected character '${c}': a value (string, number, object, array, true, false or null) is expected`);
    }
    if (state === "key") {
      if (i >= n) return fail("Unexpected end of the document: '}' is missing");
      if (text[i] !== '"') return fail("Expected a property name in double quotes");
      const error = string();
      if (error) return error;
      skip();
      if (text[i] !== ":") return fail("Expected ':' after the property name");
      i++;
      state = "value";
      continue;
    }
    // After a value: the end of the document, or a comma or closing bracket of its container.
    if (!stack.length) return i < n ? fail("Unexpected text after the end of the document") : null;
    const top = stack[stack.length - 1];
    const close = top === "{" ? "}" : "]";
    if (text[i] === ",") {
      i++;
      skip();
      if (text[i] === "}" || text[i] === "]") return fail("Trailing comma: remove it or add the next item");
      state = top === "{" ? "key" : "value";
      continue;
    }
    if (text[i] === close) {
      i++;
      stack.pop();
      continue;
    }
    if (i >= n) return fail(`Unexpected end of the document: '${close}' is missing`);
    return fail(`Expected ',' or '${close}'`);
  }
}

// 1-based line and column (in characters) of `offset` in `text`.
export function lineAndColumn(text, offset) {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}

// Wires one `[data-json-editor]` box; returns {validate(), setValue(text)}.
export function attachJsonEditor(box) {
  const textarea = box.querySelector("textarea");
  const status = box.querySelector("[data-json-status]");
  const errorSlot = box.querySelector("[data-error-for]");
  let current = null;
  let timer = 0;

  function check() {
    const text = textarea.value;
    const error = jsonSyntaxError(text);
    current = error && { ...error, ...lineAndColumn(text, error.offset) };
    status.classList.toggle("bad", Boolean(current));
    status.classList.toggle("good", !current);
    if (current) {
      status.textContent = `JSON syntax error at line ${current.line}, column ${current.column}: ${current.message}`;
      status.setAttribute("role", "button");
      status.tabIndex = 0;
      textarea.setAttribute("aria-invalid", "true");
    } else {
      status.textContent = `Valid JSON · ${text.length.toLocaleString()} characters`;
      status.removeAttribute("role");
      status.removeAttribute("tabindex");
      textarea.removeAttribute("aria-invalid");
    }
    return current;
  }
  function jump() {
    if (!current) return;
    textarea.focus();
    textarea.setSelectionRange(current.offset, Math.min(current.offset + 1, textarea.value.length));
  }
  textarea.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 120);
  });
  status.addEventListener("click", jump);
  status.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      jump();
    }
  });
  box.querySelector("[data-json-format]")?.addEventListener("click", () => {
    if (check()) return jump();
    textarea.value = JSON.stringify(JSON.parse(textarea.value), null, 2);
    check();
  });
  check();
  return {
    // Before a save: false (with the error shown under the editor) when the text is not JSON.
    validate() {
      clearTimeout(timer);
      if (!check()) return true;
      errorSlot.textContent = `The document is not valid JSON (line ${current.line}, column ${current.column}): ${current.message}`;
      errorSlot.hidden = false;
      jump();
      return false;
    },
    setValue(text) {
      textarea.value = text;
      check();
    },
  };
}
