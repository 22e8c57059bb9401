// legacy.cpp: entry points of the bit-exact legacy engines (see legacy.hpp, razor.hpp,
// pyzor.hpp).
#include "sigs/legacy.hpp"

#include "sigs/pyzor.hpp"
#include "sigs/razor.hpp"

namespace strop::sigs {

void add_razor_signatures(std::string_view raw, std::string_view ep4, bool e4, bool e8,
                          std::vector<Signature>* out) {
  if (out == nullptr || (!e4 && !e8)) return;
  Result<razor::Ep4> parsed = razor::parse_ep4(ep4);
  if (!parsed) return;  // razor-check sends no e4 for a bad ep4; we send nothing
  // razor-check computes everything first: a part on which it would die yields nothing at all.
  Result<std::vector<razor::SignedMail>> mails = razor::sign_file(raw, *parsed);
  if (!mails) return;
  for (razor::SignedMail& m : *mails) {
    for (razor::SignedPart& p : m.parts) {
      if (p.skipme) continue;
      if (e4) out->push_back(Signature{Engine::kRazorE4, std::move(p.e4)});
      if (e8) {
        for (std::string& s : p.e8) out->push_back(Signature{Engine::kRazorE8, std::move(s)});
      }
    }
  }
}

std::optional<std::string> pyzor_digest(std::string_view raw) { return pyzor::digest(raw); }

}  // namespace strop::sigs
