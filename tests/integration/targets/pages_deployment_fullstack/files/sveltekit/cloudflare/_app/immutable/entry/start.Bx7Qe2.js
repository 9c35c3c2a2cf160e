document.querySelector("h1").dataset.started = "yes";
