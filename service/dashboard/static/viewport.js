// The one phone breakpoint the scripts share; dashboard.css uses the same width.

export const PHONE = window.matchMedia("(max-width: 640px)");
