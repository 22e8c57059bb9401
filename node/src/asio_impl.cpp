// asio_impl.cpp: the one translation unit that compiles Boost.Asio (incl. SSL) and
// Boost.Beast (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION are set on
// strop_node), so the other files only include declarations and the build stays fast.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
