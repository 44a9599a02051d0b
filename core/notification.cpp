// notification.cpp -- envelope validation while Boost.JSON parses, item bytes located by json_spans.
#include "core/notification.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include "core/event_type.hpp"
#include "core/json_spans.hpp"
#include "core/utf8.hpp"

namespace boardhook::core {

namespace json = boost::json;

namespace {

ParsedNotification refuse(std::string code, std::string detail) {
  return {std::nullopt, {std::move(code), std::move(detail)}};
}

ParsedNotification invalid_envelope(std::string detail) { return refuse("invalid_envelope", std::move(detail)); }

// What the envelope rules need to know of a JSON value.
enum class Kind { object, array, string, integer, other };

struct FieldValue {
  Kind kind = Kind::other;
  std::string text;  // a string's decoded text, an integer's decimal digits
};

struct ItemFacts {
  bool is_object = false;
  std::optional<std::string> ticket_id;  // its Ticket.Id when an integer: older payloads have no TicketId
};

// The envelope as a parse leaves it: the values of the members the rules look at (of repeated
// keys the last, as a Boost.JSON object keeps them) and a summary of the Events items.
struct EnvelopeFacts {
  bool is_object = false;
  std::optional<FieldValue> community, event_type, ticket_id, events;
  std::size_t item_count = 0;    // items of the Events array
  std::vector<ItemFacts> items;  // the first max_events of them: a body with more is refused
};

// A Boost.JSON basic_parser handler that gathers EnvelopeFacts instead of building a document:
// the whole tree would be built only to look up four members and each item's Ticket.Id.
//
// It follows one path down the document: the top-level object, its Events array, an item
// object, that item's Ticket object. `path_` counts the containers of that path now open;
// they are always the outermost ones, so a value is on the path exactly when `depth_` equals
// `path_` where it begins. Everything off the path is parsed (and so validated) but not kept.
class EnvelopeReader {
 public:
  // json::parser's limits, so that both refuse the same texts.
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  explicit EnvelopeReader(std::size_t max_events) : max_events_(max_events) {}

  EnvelopeFacts& facts() { return facts_; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return open(Kind::object); }
  bool on_object_end(std::size_t, json::error_code&) { return close(); }
  bool on_array_begin(json::error_code&) { return open(Kind::array); }
  bool on_array_end(std::size_t, json::error_code&) { return close(); }

  // Keys and kept strings longer than the parser's buffer, or with escapes, come in parts.
  bool on_key_part(json::string_view part, std::size_t, json::error_code&) {
    if (is_on_path()) key_.append(part.data(), part.size());
    return true;
  }
  bool on_key(json::string_view last, std::size_t, json::error_code&) {
    if (!is_on_path()) return true;
    if (key_.empty()) {
      name_member({last.data(), last.size()});
    } else {
      key_.append(last.data(), last.size());
      name_member(key_);
      key_.clear();
    }
    return true;
  }
  bool on_string_part(json::string_view part, std::size_t, json::error_code&) {
    if (is_kept_string()) text_.append(part.data(), part.size());
    return true;
  }
  bool on_string(json::string_view last, std::size_t, json::error_code&) {
    if (!is_kept_string()) return scalar(Kind::string);
    text_.append(last.data(), last.size());
    scalar(Kind::string, std::move(text_));
    text_.clear();
    return true;
  }

  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t value, json::string_view, json::error_code&) { return integer(value); }
  bool on_uint64(std::uint64_t value, json::string_view, json::error_code&) { return integer(value); }
  bool on_double(double, json::string_view, json::error_code&) { return scalar(Kind::other); }
  bool on_bool(bool, json::error_code&) { return scalar(Kind::other); }
  bool on_null(json::error_code&) { return scalar(Kind::other); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  // The containers of the path, by how many of them are open.
  enum Level : std::size_t { document, envelope, events, item, ticket };
  // The member whose value comes next, in the innermost open container of the path.
  enum class Member { none, community, event_type, ticket_id, events, ticket, id };

  bool is_on_path() const { return depth_ == path_; }

  bool is_kept_string() const {
    return is_on_path() && path_ == envelope && (member_ == Member::community || member_ == Member::event_type);
  }

  void name_member(std::string_view key) {
    switch (path_) {
      case envelope:
        member_ = key == "CommunityName" ? Member::community
                  : key == "EventType"   ? Member::event_type
                  : key == "TicketId"    ? Member::ticket_id
                  : key == "Events"      ? Member::events
                                         : Member::none;
        break;
      case item: member_ = key == "Ticket" ? Member::ticket : Member::none; break;
      case ticket: member_ = key == "Id" ? Member::id : Member::none; break;
      default: break;
    }
  }

  // A value of `kind` begins on the path: note what the rules need of it. Returns whether
  // the value (a container) is the path's next one.
  bool record(Kind kind, std::string text = {}) {
    switch (path_) {
      case document: facts_.is_object = kind == Kind::object; return kind == Kind::object;
      case envelope: {
        std::optional<FieldValue>* field = member_ == Member::community    ? &facts_.community
                                           : member_ == Member::event_type ? &facts_.event_type
                                           : member_ == Member::ticket_id  ? &facts_.ticket_id
                                           : member_ == Member::events     ? &facts_.events
                                                                           : nullptr;
        if (field == nullptr) return false;
        *field = FieldValue{kind, std::move(text)};
        if (member_ != Member::events || kind != Kind::array) return false;
        facts_.item_count = 0;  // a repeated Events: the last one counts
        facts_.items.clear();
        return true;
      }
      case events:
        if (++facts_.item_count > max_events_) return false;
        facts_.items.push_back({kind == Kind::object, std::nullopt});
        return kind == Kind::object;
      case item:
        if (member_ != Member::ticket) return false;
        facts_.items.back().ticket_id.reset();  // a repeated Ticket: the last one counts
        return kind == Kind::object;
      case ticket:
        if (member_ == Member::id) {
          facts_.items.back().ticket_id = kind == Kind::integer ? std::optional(std::move(text)) : std::nullopt;
        }
        return false;
      default: return false;
    }
  }

  bool open(Kind kind) {
    if (is_on_path() && record(kind)) {
      ++path_;
      member_ = Member::none;
    }
    ++depth_;
    return true;
  }
  bool close() {
    if (is_on_path()) {
      --path_;
      member_ = Member::none;
    }
    --depth_;
    return true;
  }
  bool scalar(Kind kind, std::string text = {}) {
    if (is_on_path()) record(kind, std::move(text));
    return true;
  }
  template <class Integer>
  bool integer(Integer value) {
    const bool is_read = is_on_path() && (member_ == Member::ticket_id || member_ == Member::id);
    return scalar(Kind::integer, is_read ? std::to_string(value) : std::string());
  }

  std::size_t max_events_;
  EnvelopeFacts facts_;
  std::size_t depth_ = 0;  // containers open around the current value
  std::size_t path_ = 0;   // how many of them are the path's
  Member member_ = Member::none;
  std::string key_, text_;  // a key or a kept string arriving in parts
};

// Duplicate keys would let two readers of the same body see different envelopes. Only the
// envelope's own names are repeated back: other keys are the sender's text.
std::optional<std::string> duplicate_key_problem(const std::vector<JsonMember>& members) {
  for (std::size_t i = 0; i < members.size(); ++i) {
    for (std::size_t k = i + 1; k < members.size(); ++k) {
      if (members[i].key != members[k].key) continue;
      const std::string& key = members[i].key;
      const bool is_envelope_key = key == "CommunityName" || key == "EventType" || key == "TicketId" || key == "Events";
      return is_envelope_key ? key + " appears more than once" : "a top-level key appears more than once";
    }
  }
  return std::nullopt;
}

}  // namespace

bool is_documented_event_type(std::string_view event_type) {
  return event_type == "ticket_status_change" || event_type == "note_deletion";
}

// The envelope's rules as guards, in the order of the README's table, so that which refusal a
// body gets reads top to bottom; that order is why this stays one function of ~60 lines.
ParsedNotification parse_notification(std::string_view body, std::size_t max_events) {
  if (body.empty()) return refuse("empty_body", "the request body is empty");
  if (!is_valid_utf8(body)) return refuse("invalid_encoding", "the body is not valid UTF-8");

  json::parse_options options;
  options.max_depth = max_json_depth;
  json::basic_parser<EnvelopeReader> parser(options, max_events);
  boost::system::error_code ec;
  const std::size_t consumed = parser.write_some(false, body.data(), body.size(), ec);
  if (!ec && consumed < body.size()) ec = json::error::extra_data;  // as json::parser::write does
  if (ec == json::error::too_deep) {
    return refuse("invalid_json", "nested deeper than " + std::to_string(max_json_depth) + " levels");
  }
  if (ec) {
    return refuse("invalid_json", "not a JSON document (" + ec.message() + " near byte " + std::to_string(consumed) + ")");
  }
  EnvelopeFacts& envelope = parser.handler().facts();
  if (!envelope.is_object) return invalid_envelope("the top level must be a JSON object");

  const auto spans = top_level_members_with_items(body, "Events");
  if (!spans) return refuse("invalid_json", "could not locate the envelope's members");
  if (auto problem = duplicate_key_problem(spans->members)) return invalid_envelope(std::move(*problem));

  Notification notification;
  auto& community = envelope.community;
  if (!community) return invalid_envelope("CommunityName is missing");
  if (community->kind != Kind::string || community->text.empty()) return invalid_envelope("CommunityName must be a non-empty string");
  notification.community = std::move(community->text);

  auto& event_type = envelope.event_type;
  if (!event_type) return invalid_envelope("EventType is missing");
  if (event_type->kind != Kind::string || event_type->text.empty()) return invalid_envelope("EventType must be a non-empty string");
  if (!is_event_type(event_type->text)) {
    return invalid_envelope("EventType must be at most " + std::to_string(max_event_type_bytes) + " bytes of UTF-8");
  }
  notification.event_type = std::move(event_type->text);

  std::optional<std::string> ticket_id;
  if (auto& value = envelope.ticket_id) {
    if (value->kind != Kind::integer) return invalid_envelope("TicketId must be an integer when present");
    ticket_id = std::move(value->text);
  }

  const auto& events = envelope.events;
  if (!events) return invalid_envelope("Events is missing");
  if (events->kind != Kind::array) return invalid_envelope("Events must be an array");
  if (envelope.item_count > max_events) {
    return refuse("too_many_events", "Events holds " + std::to_string(envelope.item_count) + " items; at most " +
                                         std::to_string(max_events) + " are accepted");
  }
  std::vector<ItemFacts>& items = envelope.items;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_object) return invalid_envelope("Events[" + std::to_string(i) + "] must be an object");
  }

  const auto& raw_items = spans->items;
  if (!raw_items || raw_items->size() != items.size()) return refuse("invalid_json", "could not locate the bytes of Events");

  notification.events.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    notification.events.push_back({(*raw_items)[i], ticket_id ? ticket_id : std::move(items[i].ticket_id)});
  }
  return {std::move(notification), {}};
}

}  // namespace boardhook::core
