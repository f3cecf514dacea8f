// Sign in, or register and sign in.

import { register, signIn } from "../api.js";
import { errorNotice, field, h, replace } from "../dom.js";

export function signInView({ main, navigate }, mode) {
  const registering = mode === "register";
  const username = h("input", { name: "username", autocomplete: "username", required: true, minlength: 3, maxlength: 64 });
  const password = h("input", { name: "password", type: "password", autocomplete: registering ? "new-password" : "current-password", required: true, minlength: registering ? 8 : null });
  const message = h("div");
  const submit = h("button", { type: "submit" }, registering ? "Create account" : "Sign in");
  const form = h(
    "form",
    {
      class: "card narrow",
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        replace(message);
        try {
          await (registering ? register : signIn)(username.value.trim(), password.value);
          navigate("#/projects");
        } catch (error) {
          replace(message, errorNotice(error));
          submit.disabled = false;
        }
      },
    },
    h("h1", {}, registering ? "Create a SalesML account" : "Sign in to SalesML"),
    h("p", { class: "muted small" }, "Predictive sales analytics: upload sales history, train, predict."),
    field("Username", username, registering ? "3–64 letters, digits, . _ -" : null),
    field("Password", password, registering ? "at least 8 characters" : null),
    message,
    h("div", { class: "actions" }, submit, registering ? h("a", { href: "#/sign-in" }, "I have an account") : h("a", { href: "#/register" }, "Create an account")),
  );
  replace(main, form);
  username.focus();
}
