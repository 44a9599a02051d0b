// web_assets.hpp -- the files of the web view (web/), built into the handler
// (cmake/embed_web_assets.cmake writes their definition).
#pragma once
#include <optional>
#include <string_view>

namespace boardhook::handler {

struct WebAsset {
  std::string_view content;
  std::string_view content_type;
};

// "index.html", "app.js", "app.css", ...; nullopt for any other name.
std::optional<WebAsset> web_asset(std::string_view name);

}  // namespace boardhook::handler
