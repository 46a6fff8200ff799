# kiln_proto_library(NAME <target> PROTOS <paths relative to protos/> [DEPS <targets>] [GRPC])
# Generates C++ (and gRPC stubs with GRPC) into the build tree and wraps them in a static library.
# Generated code is never committed; consumers include "kiln/<svc>/v1/<file>.pb.h".
set(KILN_PROTO_ROOT ${CMAKE_SOURCE_DIR}/protos)
set(KILN_PROTO_GEN ${CMAKE_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${KILN_PROTO_GEN})

function(kiln_proto_library)
  cmake_parse_arguments(ARG "GRPC" "NAME" "PROTOS;DEPS" ${ARGN})
  set(srcs)
  foreach(proto ${ARG_PROTOS})
    get_filename_component(dir ${proto} DIRECTORY)
    get_filename_component(stem ${proto} NAME_WE)
    set(base ${KILN_PROTO_GEN}/${dir}/${stem})
    set(outs ${base}.pb.cc ${base}.pb.h)
    set(args --cpp_out=${KILN_PROTO_GEN})
    if(ARG_GRPC)
      list(APPEND outs ${base}.grpc.pb.cc ${base}.grpc.pb.h)
      list(APPEND args --grpc_out=${KILN_PROTO_GEN}
           --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>)
    endif()
    add_custom_command(
      OUTPUT ${outs}
      COMMAND protobuf::protoc --proto_path=${KILN_PROTO_ROOT} ${args} ${KILN_PROTO_ROOT}/${proto}
      DEPENDS ${KILN_PROTO_ROOT}/${proto} protobuf::protoc
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(APPEND srcs ${base}.pb.cc)
    if(ARG_GRPC)
      list(APPEND srcs ${base}.grpc.pb.cc)
    endif()
  endforeach()
  add_library(${ARG_NAME} STATIC ${srcs})
  target_include_directories(${ARG_NAME} SYSTEM PUBLIC ${KILN_PROTO_GEN})
  target_link_libraries(${ARG_NAME} PUBLIC gRPC::grpc++ protobuf::libprotobuf ${ARG_DEPS})
  string(REGEX REPLACE "^kiln_" "" alias "${ARG_NAME}")
  add_library(kiln::${alias} ALIAS ${ARG_NAME})
endfunction()
